/*
 * proxy: who the client is when privreg runs behind reverse proxies. The
 * operator names the proxies it trusts (--trusted-proxies, CIDRs); only a
 * request whose socket peer is one of them has its X-Forwarded-For and
 * Forwarded (RFC 7239, for=) headers believed. They are read from the right
 * (the hop nearest to us first), trusted hops are skipped, and the first
 * untrusted address is the client: everything left of it was written by
 * the client itself and is never looked at.
 *
 * Invariants: the answer is always an address the server can stand behind:
 * the peer, or an address a trusted proxy wrote. Anything unreadable in the
 * part walked (a malformed element, "unknown", an obfuscated name, more
 * than PROXY_HOPS_MAX hops or PROXY_LINES_MAX header lines) gives the
 * peer; so does a request carrying both headers when they name different
 * clients (a proxy that sets one passes the other through from the
 * client unchanged). Parsing is bounded and never writes past its buffers.
 * Addresses are compared as 16 bytes, IPv4 as IPv4-mapped IPv6, so a
 * mapped peer (::ffff:10.0.0.1) matches 10.0.0.0/8 and prints as IPv4.
 */
#ifndef PRIVREG_PROXY_H
#define PRIVREG_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "base/err.h"

#define PROXY_CIDRS_MAX 64  /* CIDRs in --trusted-proxies */
#define PROXY_HOPS_MAX 32   /* elements walked in one header, right to left */
#define PROXY_LINES_MAX 16  /* lines of one header name in one request */
#define PROXY_ADDR_LEN 46   /* INET6_ADDRSTRLEN: the longest address as text, with its NUL */

struct proxy_cidr {
	unsigned char addr[16]; /* IPv4 as ::ffff:a.b.c.d */
	unsigned bits;          /* of the 128 */
};

/* The trusted proxies; n == 0 trusts nobody (nothing forwarded is believed). */
struct proxy_trust {
	struct proxy_cidr v[PROXY_CIDRS_MAX];
	size_t n;
};

/* What one request says about its route here: its header lines, in the
 * order received (pointers into the request, not copied). */
struct proxy_headers {
	const char *xff[PROXY_LINES_MAX];
	size_t nxff;
	const char *fwd[PROXY_LINES_MAX];
	size_t nfwd;
	bool too_many; /* more lines than PROXY_LINES_MAX of one name */
};

/* "10.0.0.0/8,::1/128,192.0.2.7" (an address alone is one host) into *out.
 * NULL or "" trusts nobody. RC_INVALID, with the offending entry in eb, for
 * a bad address or prefix, bits set past the prefix, or too many entries. */
enum rc proxy_trust_parse(const char *list, struct proxy_trust *out, struct errbuf *eb) WUR;

/* Adds a header line to h if name is X-Forwarded-For or Forwarded (any case). */
void proxy_headers_add(struct proxy_headers *h, const char *name, const char *value);

/* The client's address as text into out (PROXY_ADDR_LEN bytes): see the
 * top of this file. peer NULL or of an unknown family: "?". */
void proxy_client(const struct proxy_trust *t, const struct sockaddr *peer, const struct proxy_headers *h,
                  char out[PROXY_ADDR_LEN]);

#endif
