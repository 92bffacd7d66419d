/*
 * dunning_unit.c: unit tests of the pure C cores outside the server:
 * SHA-256 and HMAC-SHA256 known answers (FIPS 180-4, RFC 4231), signed pay
 * links (round trip, tampering, expiry) and the template renderer
 * (whitelist, malformed placeholders, control characters). libc only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paylink.h"
#include "template_render.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond, what) do { checks++; if (!(cond)) { failures++; fprintf(stderr, "FAIL: %s (line %d)\n", what, __LINE__); } } while (0)

static void
hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void
sha_kat(const char *msg, const char *want)
{
	unsigned char d[32];
	char		h[65];

	paylink_sha256((const unsigned char *) msg, strlen(msg), d);
	hex(d, 32, h);
	CHECK(strcmp(h, want) == 0, msg);
}

static void
hmac_kat(const unsigned char *key, size_t keylen, const char *msg, const char *want, const char *what)
{
	unsigned char d[32];
	char		h[65];

	paylink_hmac_sha256(key, keylen, (const unsigned char *) msg, strlen(msg), d);
	hex(d, 32, h);
	CHECK(strcmp(h, want) == 0, what);
}

int
main(void)
{
	unsigned char k1[20],
				k6[131];
	char		million[1001];
	char		url[512],
				p[72],
				u[72];
	long long	cents,
				exp;
	char		err[256];
	char	   *out;

	/* FIPS 180-4 examples */
	sha_kat("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha_kat("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha_kat("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
			"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(million, 'a', 1000);
	million[1000] = '\0';
	sha_kat(million, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");

	/* RFC 4231 test cases 1, 2 and 6 */
	memset(k1, 0x0b, sizeof(k1));
	hmac_kat(k1, sizeof(k1), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", "rfc4231 #1");
	hmac_kat((const unsigned char *) "Jefe", 4, "what do ya want for nothing?",
			 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "rfc4231 #2");
	memset(k6, 0xaa, sizeof(k6));
	hmac_kat(k6, sizeof(k6), "Test Using Larger Than Block-Size Key - Hash Key First",
			 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", "rfc4231 #6");

	/* pay links */
	CHECK(paylink_build(url, sizeof(url), "https://pay.example.com/p", k1, 20, "p1", "pt-7", 12345, 1900000000) > 0, "build");
	CHECK(paylink_verify(url, k1, 20, 1800000000, p, u, sizeof(p), &cents, &exp) == 1, "verify");
	CHECK(strcmp(p, "p1") == 0 && strcmp(u, "pt-7") == 0 && cents == 12345 && exp == 1900000000, "fields");
	CHECK(paylink_verify(url, k1, 20, 1900000001, p, u, sizeof(p), &cents, &exp) == -1, "expired");
	CHECK(paylink_verify(url, k6, 20, 1800000000, p, u, sizeof(p), &cents, &exp) == 0, "other key");
	{
		char		t[512];
		char	   *a;

		strcpy(t, url);
		a = strstr(t, "a=12345");
		a[2] = '9';
		CHECK(paylink_verify(t, k1, 20, 1800000000, p, u, sizeof(p), &cents, &exp) == 0, "tampered amount");
	}
	CHECK(paylink_build(url, sizeof(url), "https://x/p", k1, 20, "p 1", "a", 1, 1) == -1, "id needing escapes refused");
	CHECK(paylink_build(url, 20, "https://x/p", k1, 20, "p1", "a", 1, 1) == -1, "too small a buffer refused");
	CHECK(paylink_verify("https://x/p?p=p1&u=a", k1, 20, 0, p, u, sizeof(p), &cents, &exp) == 0, "incomplete link");

	/* templates */
	{
		TrVar		vars[] = {{"first_name", "Ann\r\nBcc: x"}, {"balance", "$12.00"}, {"plan_offer", NULL}};

		out = tr_render("Hi {{first_name}}, {{ balance }} due.{{plan_offer}}", vars, 3, err, sizeof(err));
		CHECK(out && strcmp(out, "Hi Ann  Bcc: x, $12.00 due.") == 0, "render with control characters cleaned");
		free(out);
		out = tr_render("Hi {{diagnosis}}", vars, 3, err, sizeof(err));
		CHECK(out == NULL && strstr(err, "unknown placeholder") != NULL, "unknown placeholder refused");
		out = tr_render("Hi {{first_name", vars, 3, err, sizeof(err));
		CHECK(out == NULL && strstr(err, "malformed") != NULL, "malformed placeholder refused");
		out = tr_render("Braces { and } and {x} stay", vars, 3, err, sizeof(err));
		CHECK(out && strcmp(out, "Braces { and } and {x} stay") == 0, "single braces are text");
		free(out);
		out = tr_render("{{pay_link}}", vars, 3, err, sizeof(err));
		CHECK(out && strcmp(out, "") == 0, "whitelisted variable without a value renders empty");
		free(out);
		CHECK(tr_check("{{first_name}} {{balance}}", err, sizeof(err)) == 1, "check ok");
		CHECK(tr_check("{{provider_name}}", err, sizeof(err)) == 0, "provider is not on the whitelist");
		CHECK(tr_check("{{note}}", err, sizeof(err)) == 0, "note is not on the whitelist");
	}

	printf("%d checks, %d failures\n", checks, failures);
	return failures == 0 ? 0 : 1;
}
