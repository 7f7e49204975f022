/* proxy: --trusted-proxies parsing (IPv4, IPv6, mapped, refused forms) and
 * the client address of a request: believed from trusted peers only, read
 * from the right, and the peer whenever the walked part is unreadable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "api/proxy.h"

static struct sockaddr_storage peer_of(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
	}
	return ss;
}

/* The client of a request from peer under trust list, with at most two
 * X-Forwarded-For and two Forwarded lines (NULL: absent). */
static const char *client(const char *list, const char *peer, const char *xff1, const char *xff2, const char *fwd1,
                          const char *fwd2)
{
	static char out[PROXY_ADDR_LEN];
	struct proxy_trust t;
	struct errbuf eb = {""};
	assert_int_equal(proxy_trust_parse(list, &t, &eb), RC_OK);
	struct proxy_headers h = {.nxff = 0};
	proxy_headers_add(&h, "Host", "example.org");
	proxy_headers_add(&h, "x-forwarded-for", xff1);
	proxy_headers_add(&h, "X-Forwarded-For", xff2);
	proxy_headers_add(&h, "FORWARDED", fwd1);
	proxy_headers_add(&h, "Forwarded", fwd2);
	struct sockaddr_storage ss = peer_of(peer);
	proxy_client(&t, (const struct sockaddr *)&ss, &h, out);
	return out;
}

static void test_trust_list(void **state)
{
	(void)state;
	struct proxy_trust t;
	struct errbuf eb = {""};
	assert_int_equal(proxy_trust_parse(NULL, &t, &eb), RC_OK);
	assert_int_equal(t.n, 0);
	assert_int_equal(proxy_trust_parse("10.0.0.0/8, 192.0.2.7 ,::1/128,fd00::/8,0.0.0.0/0", &t, &eb), RC_OK);
	assert_int_equal(t.n, 5);
	assert_int_equal(t.v[0].bits, 104);
	assert_int_equal(t.v[1].bits, 128);
	assert_int_equal(t.v[4].bits, 96);
	const char *bad[] = {"10.0.0.1/8", "10.0.0.0/33", "::1/129", "fd00::1/8", "nope", "10.0.0.0/", "10.0.0.0/x",
	                     "10.0.0.0/0008", ",10.0.0.0/8", "10.0.0.0/8,", "1.2.3.4/-1", "[::1]/128", "fe80::1%lo"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		eb.msg[0] = '\0';
		assert_int_equal(proxy_trust_parse(bad[i], &t, &eb), RC_INVALID);
		assert_non_null(strstr(eb.msg, "--trusted-proxies"));
	}
	char many[PROXY_CIDRS_MAX * 12 + 16] = "";
	for (int i = 0; i <= PROXY_CIDRS_MAX; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "%s10.0.%d.0/24", i ? "," : "", i);
	assert_int_equal(proxy_trust_parse(many, &t, &eb), RC_INVALID);
}

static void test_untrusted_peers_are_the_client(void **state)
{
	(void)state;
	assert_string_equal(client(NULL, "192.0.2.1", "203.0.113.9", NULL, "for=203.0.113.9", NULL), "192.0.2.1");
	assert_string_equal(client("10.0.0.0/8", "192.0.2.1", "203.0.113.9", NULL, NULL, NULL), "192.0.2.1");
	assert_string_equal(client("10.0.0.0/8", "2001:db8::5", "203.0.113.9", NULL, NULL, NULL), "2001:db8::5");
	/* A mapped peer prints, and matches, as IPv4. */
	assert_string_equal(client("10.0.0.0/8", "::ffff:192.0.2.1", "203.0.113.9", NULL, NULL, NULL), "192.0.2.1");
	assert_string_equal(client("10.0.0.0/8", "::ffff:10.1.2.3", "203.0.113.9", NULL, NULL, NULL), "203.0.113.9");
	/* A trusted peer that forwards nothing is the client. */
	assert_string_equal(client("10.0.0.0/8", "10.0.0.1", NULL, NULL, NULL, NULL), "10.0.0.1");
}

static void test_forwarded_clients(void **state)
{
	(void)state;
	const char *t = "10.0.0.0/8,2001:db8:ff::/48";
	assert_string_equal(client(t, "10.0.0.1", "203.0.113.9", NULL, NULL, NULL), "203.0.113.9");
	/* From the right, trusted hops skipped, the client's own part unread. */
	assert_string_equal(client(t, "10.0.0.1", "junk, 198.51.100.1, 203.0.113.9 ,10.2.2.2", NULL, NULL, NULL),
	                    "203.0.113.9");
	/* Two lines are one list, in order. */
	assert_string_equal(client(t, "10.0.0.1", "198.51.100.1", "10.3.3.3", NULL, NULL), "198.51.100.1");
	assert_string_equal(client(t, "10.0.0.1", "198.51.100.1,,  ,", NULL, NULL, NULL), "198.51.100.1");
	/* Every hop trusted: the leftmost one. */
	assert_string_equal(client(t, "10.0.0.1", "10.9.9.9, 10.8.8.8", NULL, NULL, NULL), "10.9.9.9");
	/* IPv6 hops, with and without brackets and ports; IPv4 with a port. */
	assert_string_equal(client(t, "2001:db8:ff::1", "2001:db8::7", NULL, NULL, NULL), "2001:db8::7");
	assert_string_equal(client(t, "10.0.0.1", "[2001:db8::7]:443", NULL, NULL, NULL), "2001:db8::7");
	assert_string_equal(client(t, "10.0.0.1", "203.0.113.9:5000", NULL, NULL, NULL), "203.0.113.9");
	assert_string_equal(client(t, "10.0.0.1", "::ffff:203.0.113.9", NULL, NULL, NULL), "203.0.113.9");
	/* RFC 7239. */
	assert_string_equal(client(t, "10.0.0.1", NULL, NULL, "for=203.0.113.9", NULL), "203.0.113.9");
	assert_string_equal(client(t, "10.0.0.1", NULL, NULL, "For=\"[2001:db8::7]:4711\";proto=https;by=10.0.0.1",
	                           NULL), "2001:db8::7");
	assert_string_equal(client(t, "10.0.0.1", NULL, NULL, "for=198.51.100.1, for=10.4.4.4", "proto=http;for=10.5.5.5"),
	                    "198.51.100.1");
	/* Both headers, naming the same client. */
	assert_string_equal(client(t, "10.0.0.1", "203.0.113.9", NULL, "for=\"203.0.113.9:1\"", NULL), "203.0.113.9");
}

static void test_unreadable_gives_the_peer(void **state)
{
	(void)state;
	const char *t = "10.0.0.0/8";
	const char *xff[] = {"not-an-address", "203.0.113.9, 300.1.1.1", "203.0.113.9 10.0.0.2", "[203.0.113.9]",
	                     "[2001:db8::1", "[2001:db8::1]x", "203.0.113.9:", "203.0.113.9:123456", "fe80::1%eth0",
	                     "2001:db8::1:80:x"};
	for (size_t i = 0; i < sizeof xff / sizeof *xff; i++)
		assert_string_equal(client(t, "10.0.0.1", xff[i], NULL, NULL, NULL), "10.0.0.1");
	const char *fwd[] = {"for=unknown", "for=_hidden", "proto=https", "for=\"[2001:db8::1\"", "for=\"a\\\"b\"",
	                     "for=203.0.113.9;for=203.0.113.8", "for=", "for=\"\"", "for=\"203.0.113.9"};
	for (size_t i = 0; i < sizeof fwd / sizeof *fwd; i++)
		assert_string_equal(client(t, "10.0.0.1", NULL, NULL, fwd[i], NULL), "10.0.0.1");
	/* The two headers disagree: one of them came from the client. */
	assert_string_equal(client(t, "10.0.0.1", "203.0.113.9", NULL, "for=198.51.100.9", NULL), "10.0.0.1");
	/* Bounds: hops walked, lines kept. */
	char chain[PROXY_HOPS_MAX * 12 + 32] = "203.0.113.9";
	for (int i = 0; i < PROXY_HOPS_MAX; i++)
		strcat(chain, ",10.0.0.9");
	assert_string_equal(client(t, "10.0.0.1", chain, NULL, NULL, NULL), "10.0.0.1");
	assert_string_equal(client(t, "10.0.0.1", chain + strlen("203.0.113.9,10.0.0.9"), NULL, NULL, NULL), "10.0.0.9");
	struct proxy_trust tr;
	struct errbuf eb = {""};
	assert_int_equal(proxy_trust_parse(t, &tr, &eb), RC_OK);
	struct proxy_headers h = {.nxff = 0};
	for (int i = 0; i <= PROXY_LINES_MAX; i++)
		proxy_headers_add(&h, "X-Forwarded-For", "203.0.113.9");
	assert_true(h.too_many);
	assert_int_equal(h.nxff, PROXY_LINES_MAX);
	struct sockaddr_storage ss = peer_of("10.0.0.1");
	char out[PROXY_ADDR_LEN];
	proxy_client(&tr, (const struct sockaddr *)&ss, &h, out);
	assert_string_equal(out, "10.0.0.1");
	proxy_client(&tr, NULL, &h, out);
	assert_string_equal(out, "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trust_list),
		cmocka_unit_test(test_untrusted_peers_are_the_client),
		cmocka_unit_test(test_forwarded_clients),
		cmocka_unit_test(test_unreadable_gives_the_peer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
