/* proxy: see proxy.h. Nothing here allocates: every piece of a header is
 * looked at in place or copied into a small fixed buffer after its length
 * is checked. */
#include "api/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define TEXT_MAX 64 /* an address with brackets and port, or a CIDR entry, as text */

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* s[0..len) as an IPv4 or IPv6 address, nothing around it. */
static bool addr_parse(const char *s, size_t len, unsigned char out[16])
{
	char text[TEXT_MAX];
	if (len == 0 || len >= sizeof text)
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	struct in_addr a4;
	if (inet_pton(AF_INET, text, &a4) == 1) {
		memcpy(out, v4_mapped, 12);
		memcpy(out + 12, &a4, 4);
		return true;
	}
	return inet_pton(AF_INET6, text, out) == 1;
}

static bool port_ok(const char *s, size_t len)
{
	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* A hop as proxies write it: 192.0.2.1, 2001:db8::1, [2001:db8::1],
 * [2001:db8::1]:4711 or 192.0.2.1:4711. */
static bool hop_parse(const char *s, size_t len, unsigned char out[16])
{
	if (len == 0)
		return false;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return false;
		size_t inner = (size_t)(close - s) - 1, rest = len - inner - 2;
		if (rest && (close[1] != ':' || !port_ok(close + 2, rest - 1)))
			return false;
		/* brackets hold IPv6 only */
		return memchr(s + 1, ':', inner) && addr_parse(s + 1, inner, out);
	}
	if (addr_parse(s, len, out))
		return true;
	const char *colon = memchr(s, ':', len);
	if (!colon || memchr(colon + 1, ':', len - (size_t)(colon - s) - 1))
		return false; /* no port, or a bare IPv6 that did not parse */
	return addr_parse(s, (size_t)(colon - s), out) && port_ok(colon + 1, len - (size_t)(colon - s) - 1);
}

static bool ows(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
	while (*len && ows(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && ows((*s)[*len - 1]))
		(*len)--;
}

/* One element of Forwarded: pairs separated by ';', exactly one of them
 * for=VALUE, the value a token or a quoted string without escapes. */
static bool forwarded_parse(const char *s, size_t len, unsigned char out[16])
{
	bool found = false;
	while (len) {
		const char *semi = memchr(s, ';', len);
		size_t plen = semi ? (size_t)(semi - s) : len;
		const char *pair = s;
		size_t pl = plen;
		trim(&pair, &pl);
		if (pl > 4 && !strncasecmp(pair, "for=", 4)) {
			const char *v = pair + 4;
			size_t vl = pl - 4;
			if (v[0] == '"') {
				if (vl < 2 || v[vl - 1] != '"')
					return false;
				v++;
				vl -= 2;
				if (memchr(v, '\\', vl) || memchr(v, '"', vl))
					return false;
			}
			if (found || !hop_parse(v, vl, out))
				return false;
			found = true;
		}
		if (!semi)
			break;
		s = semi + 1;
		len -= plen + 1;
	}
	return found;
}

static bool in_cidr(const struct proxy_cidr *c, const unsigned char a[16])
{
	unsigned full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(c->addr, a, full))
		return false;
	if (!rest)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (a[full] & mask);
}

static bool trusted(const struct proxy_trust *t, const unsigned char a[16])
{
	for (size_t i = 0; i < t->n; i++)
		if (in_cidr(&t->v[i], a))
			return true;
	return false;
}

enum walk { WALK_NONE, WALK_BAD, WALK_FOUND };

/* The header's lines as one list, read from the right: the first hop not
 * trusted, or the leftmost one when every hop is trusted. */
static enum walk walk(const struct proxy_trust *t, const char *const *lines, size_t n, bool forwarded,
                      unsigned char out[16])
{
	size_t hops = 0;
	enum walk w = WALK_NONE;
	for (size_t i = n; i-- > 0;) {
		const char *line = lines[i];
		size_t end = strlen(line);
		for (;;) {
			size_t start = end;
			while (start && line[start - 1] != ',')
				start--;
			const char *e = line + start;
			size_t len = end - start;
			trim(&e, &len);
			if (len) { /* empty list elements are allowed (RFC 9110, 5.6.1) */
				if (++hops > PROXY_HOPS_MAX)
					return WALK_BAD;
				bool ok = forwarded ? forwarded_parse(e, len, out) : hop_parse(e, len, out);
				if (!ok)
					return WALK_BAD;
				w = WALK_FOUND;
				if (!trusted(t, out))
					return WALK_FOUND;
			}
			if (!start)
				break;
			end = start - 1;
		}
	}
	return w;
}

static void addr_print(const unsigned char a[16], char out[PROXY_ADDR_LEN])
{
	if (!memcmp(a, v4_mapped, 12))
		inet_ntop(AF_INET, a + 12, out, PROXY_ADDR_LEN);
	else
		inet_ntop(AF_INET6, a, out, PROXY_ADDR_LEN);
}

void proxy_client(const struct proxy_trust *t, const struct sockaddr *peer, const struct proxy_headers *h,
                  char out[PROXY_ADDR_LEN])
{
	unsigned char p[16], x[16], f[16];
	if (peer && peer->sa_family == AF_INET) {
		memcpy(p, v4_mapped, 12);
		memcpy(p + 12, &((const struct sockaddr_in *)(const void *)peer)->sin_addr, 4);
	} else if (peer && peer->sa_family == AF_INET6) {
		memcpy(p, &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr, 16);
	} else {
		strcpy(out, "?");
		return;
	}
	addr_print(p, out);
	if (!h || !trusted(t, p) || h->too_many)
		return;
	enum walk wx = walk(t, h->xff, h->nxff, false, x);
	enum walk wf = walk(t, h->fwd, h->nfwd, true, f);
	if (wx == WALK_BAD || wf == WALK_BAD)
		return;
	if (wx == WALK_FOUND && wf == WALK_FOUND && memcmp(x, f, 16))
		return;
	if (wx == WALK_FOUND)
		addr_print(x, out);
	else if (wf == WALK_FOUND)
		addr_print(f, out);
}

void proxy_headers_add(struct proxy_headers *h, const char *name, const char *value)
{
	bool xff = !strcasecmp(name, "X-Forwarded-For");
	if (!value || (!xff && strcasecmp(name, "Forwarded")))
		return;
	const char **v = xff ? h->xff : h->fwd;
	size_t *n = xff ? &h->nxff : &h->nfwd;
	if (*n == PROXY_LINES_MAX)
		h->too_many = true;
	else
		v[(*n)++] = value;
}

static enum rc cidr_parse(const char *s, size_t len, struct proxy_cidr *out, struct errbuf *eb)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	if (!addr_parse(s, alen, out->addr))
		return err_set(eb, RC_INVALID, "--trusted-proxies: '%.*s' is not an IP address or CIDR", (int)len, s);
	bool v4 = !memcmp(out->addr, v4_mapped, 12) && !memchr(s, ':', alen);
	unsigned max = v4 ? 32 : 128, bits = max;
	if (slash) {
		const char *b = slash + 1;
		size_t blen = len - alen - 1;
		bool ok = blen >= 1 && blen <= 3;
		bits = 0;
		for (size_t i = 0; ok && i < blen; i++) {
			ok = b[i] >= '0' && b[i] <= '9';
			bits = bits * 10 + (unsigned)(b[i] - '0');
		}
		if (!ok || bits > max)
			return err_set(eb, RC_INVALID, "--trusted-proxies: '%.*s': the prefix must be 0 to %u", (int)len, s, max);
	}
	out->bits = v4 ? bits + 96 : bits;
	struct proxy_cidr masked = *out;
	unsigned full = out->bits / 8;
	if (full < 16) {
		masked.addr[full] &= (unsigned char)(0xff << (8 - out->bits % 8));
		memset(masked.addr + full + 1, 0, 16 - full - 1);
	}
	if (memcmp(masked.addr, out->addr, 16))
		return err_set(eb, RC_INVALID, "--trusted-proxies: '%.*s' has address bits set past its prefix", (int)len, s);
	return RC_OK;
}

enum rc proxy_trust_parse(const char *list, struct proxy_trust *out, struct errbuf *eb)
{
	out->n = 0;
	if (!list || !*list)
		return RC_OK;
	for (const char *s = list;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		const char *e = s;
		trim(&e, &len);
		if (!len || len >= TEXT_MAX)
			return err_set(eb, RC_INVALID, "--trusted-proxies: an entry is empty or too long; give CIDRs "
			               "separated by commas, e.g. 127.0.0.1/32,10.0.0.0/8");
		if (out->n == PROXY_CIDRS_MAX)
			return err_set(eb, RC_INVALID, "--trusted-proxies: at most %d entries", PROXY_CIDRS_MAX);
		enum rc rc = cidr_parse(e, len, &out->v[out->n], eb);
		if (rc)
			return rc;
		out->n++;
		if (!comma)
			break;
		s = comma + 1;
	}
	return RC_OK;
}
