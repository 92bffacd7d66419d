/*
 * paylink.c: SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104) and the signed
 * pay link the patient taps to pay. libc only: never include postgres.h
 * here (the file is fuzzed and tested outside the server). No clock: the
 * caller passes the expiry and "now".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paylink.h"

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

typedef struct Sha256
{
	uint32_t	h[8];
	unsigned char buf[64];
	size_t		buflen;
	uint64_t	total;
} Sha256;

static void
sha_block(Sha256 *s, const unsigned char *p)
{
	uint32_t	w[64],
				a, b, c, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = ((uint32_t) p[4 * i] << 24) | ((uint32_t) p[4 * i + 1] << 16) |
			((uint32_t) p[4 * i + 2] << 8) | p[4 * i + 3];
	for (int i = 16; i < 64; i++)
	{
		uint32_t	s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t	s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
	e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
	for (int i = 0; i < 64; i++)
	{
		uint32_t	t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
		uint32_t	t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		h = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
	s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void
sha_init(Sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(s->h, iv, sizeof(iv));
	s->buflen = 0;
	s->total = 0;
}

static void
sha_update(Sha256 *s, const unsigned char *p, size_t len)
{
	s->total += len;
	while (len > 0)
	{
		size_t		take = 64 - s->buflen;

		if (take > len)
			take = len;
		memcpy(s->buf + s->buflen, p, take);
		s->buflen += take;
		p += take;
		len -= take;
		if (s->buflen == 64)
		{
			sha_block(s, s->buf);
			s->buflen = 0;
		}
	}
}

static void
sha_final(Sha256 *s, unsigned char out[32])
{
	uint64_t	bits = s->total * 8;
	unsigned char pad = 0x80;
	unsigned char zero = 0;
	unsigned char len[8];

	sha_update(s, &pad, 1);
	while (s->buflen != 56)
		sha_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char) (bits >> (56 - 8 * i));
	sha_update(s, len, 8);
	for (int i = 0; i < 8; i++)
	{
		out[4 * i] = (unsigned char) (s->h[i] >> 24);
		out[4 * i + 1] = (unsigned char) (s->h[i] >> 16);
		out[4 * i + 2] = (unsigned char) (s->h[i] >> 8);
		out[4 * i + 3] = (unsigned char) s->h[i];
	}
}

void
paylink_sha256(const unsigned char *data, size_t len, unsigned char out[32])
{
	Sha256		s;

	sha_init(&s);
	sha_update(&s, data, len);
	sha_final(&s, out);
}

void
paylink_hmac_sha256(const unsigned char *key, size_t keylen,
					const unsigned char *msg, size_t msglen, unsigned char out[32])
{
	unsigned char k[64];
	unsigned char pad[64];
	unsigned char inner[32];
	Sha256		s;

	memset(k, 0, sizeof(k));
	if (keylen > 64)
		paylink_sha256(key, keylen, k);
	else if (keylen > 0)
		memcpy(k, key, keylen);

	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	sha_init(&s);
	sha_update(&s, pad, 64);
	sha_update(&s, msg, msglen);
	sha_final(&s, inner);

	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	sha_init(&s);
	sha_update(&s, pad, 64);
	sha_update(&s, inner, 32);
	sha_final(&s, out);
}

void
paylink_sign(const unsigned char *key, size_t keylen, const char *practice_id,
			 const char *patient_id, long long cents, long long expires_epoch,
			 char sig_hex[PAYLINK_SIG_HEX])
{
	static const char hex[] = "0123456789abcdef";
	size_t		plen = strlen(practice_id),
				qlen = strlen(patient_id);
	size_t		mlen = plen + qlen + 64;
	char	   *msg = malloc(mlen);
	unsigned char mac[32];
	int			n;

	if (msg == NULL)
	{
		sig_hex[0] = '\0';
		return;
	}
	n = snprintf(msg, mlen, "%s\n%s\n%lld\n%lld", practice_id, patient_id, cents, expires_epoch);
	paylink_hmac_sha256(key, keylen, (const unsigned char *) msg, (size_t) n, mac);
	free(msg);
	for (int i = 0; i < 32; i++)
	{
		sig_hex[2 * i] = hex[mac[i] >> 4];
		sig_hex[2 * i + 1] = hex[mac[i] & 15];
	}
	sig_hex[64] = '\0';
}

/* ids are [A-Za-z0-9_.:-] by table CHECKs; refuse anything needing escapes */
static int
url_safe(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
			  *s == '_' || *s == '.' || *s == ':' || *s == '-'))
			return 0;
	return 1;
}

int
paylink_build(char *buf, size_t buflen, const char *base, const unsigned char *key,
			  size_t keylen, const char *practice_id, const char *patient_id,
			  long long cents, long long expires_epoch)
{
	char		sig[PAYLINK_SIG_HEX];
	int			n;

	if (!url_safe(practice_id) || !url_safe(patient_id) || cents < 0)
		return -1;
	paylink_sign(key, keylen, practice_id, patient_id, cents, expires_epoch, sig);
	n = snprintf(buf, buflen, "%s%cp=%s&u=%s&a=%lld&e=%lld&s=%s", base,
				 strchr(base, '?') ? '&' : '?', practice_id, patient_id, cents, expires_epoch, sig);
	if (n < 0 || (size_t) n >= buflen)
		return -1;
	return n;
}

/* value of "&name=" (or "?name=") in url, copied into out; 0 when absent */
static int
query_param(const char *url, const char *name, char *out, size_t outlen)
{
	size_t		nlen = strlen(name);
	const char *p = strchr(url, '?');

	while (p != NULL)
	{
		p++;
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=')
		{
			const char *v = p + nlen + 1;
			size_t		vlen = strcspn(v, "&#");

			if (vlen >= outlen)
				return 0;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return 1;
		}
		p = strchr(p, '&');
	}
	return 0;
}

static int
parse_ll(const char *s, long long *out)
{
	char	   *end;

	if (*s == '\0' || (*s == '-' && s[1] == '\0'))
		return 0;
	*out = strtoll(s, &end, 10);
	return *end == '\0';
}

int
paylink_verify(const char *url, const unsigned char *key, size_t keylen, long long now_epoch,
			   char *practice_id, char *patient_id, size_t idlen,
			   long long *cents, long long *expires_epoch)
{
	char		a[32],
				e[32],
				s[PAYLINK_SIG_HEX + 1],
				want[PAYLINK_SIG_HEX];
	unsigned char diff = 0;

	if (!query_param(url, "p", practice_id, idlen) || !query_param(url, "u", patient_id, idlen) ||
		!query_param(url, "a", a, sizeof(a)) || !query_param(url, "e", e, sizeof(e)) ||
		!query_param(url, "s", s, sizeof(s)) || strlen(s) != 64 ||
		!parse_ll(a, cents) || !parse_ll(e, expires_epoch) ||
		!url_safe(practice_id) || !url_safe(patient_id))
		return 0;
	paylink_sign(key, keylen, practice_id, patient_id, *cents, *expires_epoch, want);
	for (int i = 0; i < 64; i++)
		diff |= (unsigned char) (want[i] ^ s[i]);	/* constant time */
	if (diff != 0)
		return 0;
	return now_epoch > *expires_epoch ? -1 : 1;
}
