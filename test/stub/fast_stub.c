/*
 * fast_stub.c: a tiny HTTP/1.1 keep-alive server on 127.0.0.1 for the
 * worker's crash test and bench/drain. Answers every request at once
 * (201 with a Twilio-like sid, or 202 + X-Message-Id for /mail/send) and
 * appends each request's Idempotency-Key header to a log file, so the test
 * can count sends per key. Single-threaded epoll; no request validation.
 *   fast_stub PORTFILE KEYLOG [DELAY_US]
 * binds port 0 and writes the port to PORTFILE. DELAY_US (default 0) holds
 * every answer that long after the key is logged, one request at a time, so
 * a test can keep a worker's batch in flight (the crash test stops the
 * server between a provider's receipt and the worker's finish).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct Conn
{
	int			fd;
	char	   *buf;
	size_t		len,
				cap;
} Conn;

static volatile sig_atomic_t stop = 0;
static FILE *keylog;
static useconds_t delay_us = 0;
static unsigned long served = 0;

static void
on_term(int sig)
{
	stop = 1;
}

static const char *
find_header(const char *head, size_t hlen, const char *name, size_t *vlen)
{
	size_t		nlen = strlen(name);
	const char *p = head;
	const char *end = head + hlen;

	while (p < end)
	{
		const char *eol = memmem(p, end - p, "\r\n", 2);

		if (!eol)
			eol = end;
		if ((size_t) (eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':')
		{
			const char *v = p + nlen + 1;

			while (v < eol && *v == ' ')
				v++;
			*vlen = eol - v;
			return v;
		}
		p = eol + 2;
	}
	return NULL;
}

static void
respond(Conn *c, const char *head, size_t hlen)
{
	char		out[512];
	char		body[256];
	int			blen,
				olen;
	int			mail = memmem(head, hlen, "/mail/send", 10) != NULL;
	size_t		klen = 0;
	const char *key = find_header(head, hlen, "Idempotency-Key", &klen);

	served++;
	if (key && keylog)
	{
		fwrite(key, 1, klen, keylog);
		fputc('\n', keylog);
	}
	if (delay_us > 0)
		usleep(delay_us);
	blen = snprintf(body, sizeof(body),
					"{\"sid\":\"SM%032lx\",\"id\":\"pi_%lu\",\"status\":\"%s\"}",
					served, served, mail ? "accepted" : "succeeded");
	olen = snprintf(out, sizeof(out),
					"HTTP/1.1 %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s",
					mail ? "202 Accepted" : "201 Created",
					mail ? "X-Message-Id: stubmsg\r\n" : "", blen, body);
	/* small answers on a local socket: a blocking-style write loop is fine */
	for (int off = 0; off < olen;)
	{
		ssize_t		w = write(c->fd, out + off, olen - off);

		if (w < 0)
		{
			if (errno == EAGAIN)
				continue;
			return;
		}
		off += w;
	}
}

/* handle every complete request in the buffer; -1 to close */
static int
drain(Conn *c)
{
	for (;;)
	{
		char	   *hend = memmem(c->buf, c->len, "\r\n\r\n", 4);
		size_t		hlen,
					vlen,
					clen = 0,
					total;
		const char *cl;

		if (!hend)
			return 0;
		hlen = hend - c->buf;
		cl = find_header(c->buf, hlen, "Content-Length", &vlen);
		if (cl)
			clen = strtoul(cl, NULL, 10);
		total = hlen + 4 + clen;
		if (c->len < total)
			return 0;
		respond(c, c->buf, hlen);
		memmove(c->buf, c->buf + total, c->len - total);
		c->len -= total;
	}
}

int
main(int argc, char **argv)
{
	int			ls,
				ep,
				one = 1;
	struct sockaddr_in a;
	socklen_t	alen = sizeof(a);
	struct epoll_event ev,
				evs[256];
	FILE	   *pf;

	if (argc < 3)
	{
		fprintf(stderr, "usage: fast_stub PORTFILE KEYLOG [DELAY_US]\n");
		return 2;
	}
	if (argc > 3)
		delay_us = (useconds_t) strtoul(argv[3], NULL, 10);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	keylog = fopen(argv[2], "w");
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(ls, 1024) < 0)
	{
		perror("bind/listen");
		return 1;
	}
	getsockname(ls, (struct sockaddr *) &a, &alen);
	pf = fopen(argv[1], "w");
	fprintf(pf, "%d\n", ntohs(a.sin_port));
	fclose(pf);

	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	while (!stop)
	{
		int			n = epoll_wait(ep, evs, 256, 200);

		for (int i = 0; i < n; i++)
		{
			Conn	   *c = evs[i].data.ptr;

			if (c == NULL)
			{
				int			fd;

				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0)
				{
					Conn	   *nc = calloc(1, sizeof(Conn));

					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					nc->fd = fd;
					nc->cap = 65536;
					nc->buf = malloc(nc->cap);
					ev.events = EPOLLIN;
					ev.data.ptr = nc;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			for (;;)
			{
				ssize_t		r;

				if (c->cap - c->len < 16384)
				{
					c->cap *= 2;
					c->buf = realloc(c->buf, c->cap);
				}
				r = read(c->fd, c->buf + c->len, c->cap - c->len);
				if (r > 0)
				{
					c->len += r;
					continue;
				}
				if (r == 0 || errno != EAGAIN)
				{
					close(c->fd);
					free(c->buf);
					free(c);
					c = NULL;
				}
				break;
			}
			if (c)
				drain(c);
		}
		if (keylog)
			fflush(keylog);
	}
	if (keylog)
		fclose(keylog);
	fprintf(stderr, "fast_stub: served %lu\n", served);
	return 0;
}
