/*
 * cli_attest: `privreg attest`: the tenant's signed attestation (core/attest.h,
 * api/attest_json.h), the public key that checks it, and the check.
 *
 * An attestation made here is kept in the register (its period ends there
 * for the next one). The signing key never leaves the key directory; verify
 * needs only the public half (--public-key), or the register's own key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "api/attest_json.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "core/attest.h"
#include "crypto/signkey.h"

static const char attest_help[] =
	"usage: privreg attest [--tenant T] [--dir D] [--out FILE] [--html FILE] [--format json|html]\n"
	"       privreg attest key [--dir D]\n"
	"       privreg attest verify FILE [--public-key KEY] [--dir D]\n\n"
	"attest states, as of now, each promise of the tenant's privacy notice as a\n"
	"claim that holds or does not (retention, requests, consent, disclosures,\n"
	"access, erasure, policy), with its evidence, signed with the register's\n"
	"Ed25519 key; docs/attestation.md says what each claim checks. The period\n"
	"runs from the previous attestation (or the tenant's creation) to now; the\n"
	"attestation is kept in the register and starts the next one's period.\n"
	"It is written to --out (default: standard output) as JSON, or as HTML\n"
	"with --format html; --html FILE writes the HTML rendering besides. The\n"
	"access claim reads the audit checkpoints in DIR/" CLI_CHECKPOINT_FILE ".\n"
	"key prints the public key (made once per register in DIR/keys) as JSON:\n"
	"publish it for anyone to check attestations with.\n"
	"verify checks FILE's signature with KEY (base64, as 'attest key' prints\n"
	"it) or the register's key, and exits 1 if it does not match. With --dir\n"
	"it also computes every claim again as of the document's time from what\n"
	"the register holds now, and says which still agree (exit 1 if one\n"
	"differs: data erased since, a later sweep, or an altered register).\n";

static int write_text(const char *path, const char *text)
{
	if (!path || !strcmp(path, "-")) {
		fputs(text, stdout);
		return fflush(stdout) ? cli_fail("attest", RC_IO, NULL) : CLI_OK;
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "privreg: attest: cannot write %s: %s\n", path, strerror(errno));
		return CLI_FAILED;
	}
	bool ok = fputs(text, f) >= 0;
	ok = fclose(f) == 0 && ok;
	if (!ok) {
		fprintf(stderr, "privreg: attest: cannot write %s\n", path);
		return CLI_FAILED;
	}
	return CLI_OK;
}

static int load_key(const char *dir, struct signkey *k)
{
	char keydir[4200];
	struct errbuf eb = {""};
	snprintf(keydir, sizeof keydir, "%s/keys", dir);
	enum rc rc = signkey_load(keydir, k, &eb);
	return rc ? cli_fail("attest", rc, &eb) : CLI_OK;
}

static void checkpoint_path(const struct cli_register *r, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", r->dir, CLI_CHECKPOINT_FILE);
}

static int make(const struct cli_opts *o, const char *out, const char *html, bool as_html)
{
	struct cli_register r;
	struct tenant *t = NULL;
	int ret = cli_open(o, &r, &t);
	if (ret)
		return ret;
	struct signkey k;
	ret = load_key(o->dir, &k);
	if (ret) {
		cli_close(&r, t);
		return ret;
	}
	char cps[4400];
	checkpoint_path(&r, cps, sizeof cps);
	struct core_ctx c = {.store = r.store, .tenant = t};
	struct attest_opts ao = {.checkpoints = cps};
	struct attestation a;
	struct errbuf eb = {""};
	enum rc rc = attest_make(&c, &ao, &a, &eb);
	char *doc = rc ? NULL : attest_json_document(&a, &k);
	if (!rc)
		rc = attest_keep(&c, &a, doc);
	if (rc) {
		ret = cli_fail("attest", rc, &eb);
	} else {
		json_t *j = json_loads(doc, 0, NULL);
		char *page = attest_json_html(j);
		json_decref(j);
		if (!page && (as_html || html))
			ret = cli_fail("attest", RC_TOO_LARGE, NULL);
		else
			ret = write_text(out, as_html ? page : doc);
		if (!ret && html)
			ret = write_text(html, page);
		free(page);
		size_t held = 0;
		for (int i = 0; i < ATTEST__COUNT; i++)
			held += a.claims[i].holds;
		if (!ret && out && strcmp(out, "-")) {
			char at[TIMEUTIL_DATETIME_LEN];
			timeutil_format_datetime(a.as_of, at);
			printf("attestation of tenant %s as of %s: %zu of %d claims hold; written to %s\n", t->name, at, held,
			       ATTEST__COUNT, out);
			for (int i = 0; i < ATTEST__COUNT; i++)
				printf("  %-12s %s\n", a.claims[i].name, a.claims[i].holds ? "holds" : "DOES NOT HOLD");
		}
		attest_fini(&a);
	}
	free(doc);
	signkey_fini(&k);
	cli_close(&r, t);
	return ret;
}

static int key(const struct cli_opts *o)
{
	struct signkey k;
	int ret = load_key(o->dir, &k);
	if (ret)
		return ret;
	char *line = attest_json_public_key(&k);
	printf("%s\n", line);
	free(line);
	signkey_fini(&k);
	return CLI_OK;
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "privreg: attest verify: cannot read %s: %s\n", path, strerror(errno));
		return CLI_FAILED;
	}
	struct buf b;
	buf_init(&b, ATTEST_JSON_MAX);
	char chunk[65536];
	size_t n;
	enum rc rc = RC_OK;
	while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		rc = buf_append(&b, chunk, n);
	bool bad = ferror(f);
	fclose(f);
	if (rc || bad) {
		buf_fini(&b);
		fprintf(stderr, "privreg: attest verify: cannot read %s: %s\n", path,
		        rc ? "larger than an attestation can be" : strerror(errno));
		return rc ? CLI_REFUSED : CLI_FAILED;
	}
	*out = buf_take(&b, len);
	if (!*out)
		*out = xstrdup("");
	return CLI_OK;
}

/* Every claim again as of the document's time: which still agree. */
static int rerun(const struct cli_opts *o, json_t *doc)
{
	const char *tenant = NULL, *as_of = NULL, *from = NULL;
	int64_t at, start;
	if (json_unpack(doc, "{s:s, s:s, s:{s:s}}", "tenant", &tenant, "as_of", &as_of, "period", "from", &from) ||
	    timeutil_parse_instant(as_of, &at) || timeutil_parse_instant(from, &start)) {
		fprintf(stderr, "privreg: attest verify: the document has no tenant, as_of or period.from\n");
		return CLI_REFUSED;
	}
	struct cli_opts to = *o;
	to.tenant = tenant;
	struct cli_register r;
	struct tenant *t = NULL;
	int ret = cli_open(&to, &r, &t);
	if (ret)
		return ret;
	char cps[4400];
	checkpoint_path(&r, cps, sizeof cps);
	struct core_ctx c = {.store = r.store, .tenant = t, .now = at};
	struct attest_opts ao = {.checkpoints = cps, .from = start};
	struct attestation a;
	struct errbuf eb = {""};
	enum rc rc = attest_make(&c, &ao, &a, &eb);
	if (rc) {
		cli_close(&r, t);
		return cli_fail("attest verify", rc, &eb);
	}
	json_t *now = attest_json_body(&a);
	attest_fini(&a);
	size_t i, differ = 0;
	json_t *then;
	json_array_foreach(json_object_get(doc, "claims"), i, then) {
		const char *name = json_string_value(json_object_get(then, "name"));
		json_t *again = NULL, *cl;
		size_t k;
		json_array_foreach(json_object_get(now, "claims"), k, cl)
			if (name && !strcmp(json_string_value(json_object_get(cl, "name")), name))
				again = cl;
		bool agree = again && json_equal(then, again);
		differ += !agree;
		if (agree)
			printf("claim %s: agrees (%s)\n", name, json_is_true(json_object_get(then, "holds")) ? "holds"
			                                                                                  : "does not hold");
		else
			printf("claim %s: DIFFERS: %s then, %s now\n", name ? name : "(unnamed)",
			       json_is_true(json_object_get(then, "holds")) ? "held" : "did not hold",
			       !again ? "unknown" : json_is_true(json_object_get(again, "holds")) ? "holds" : "does not hold");
	}
	json_decref(now);
	cli_close(&r, t);
	return differ ? CLI_REFUSED : CLI_OK;
}

static int verify(const struct cli_opts *o, const char *file, const char *public_key, bool rerun_claims)
{
	unsigned char pk[SIGNKEY_PUBLIC_LEN];
	size_t pklen = 0;
	if (public_key) {
		if (sodium_base642bin(pk, sizeof pk, public_key, strlen(public_key), NULL, &pklen, NULL,
		                      sodium_base64_VARIANT_ORIGINAL) || pklen != sizeof pk) {
			cli_usage_error("attest", "--public-key: not 32 bytes of base64");
			return CLI_USAGE;
		}
	} else {
		struct signkey k;
		int ret = load_key(o->dir, &k);
		if (ret)
			return ret;
		memcpy(pk, k.pk, sizeof pk);
		signkey_fini(&k);
	}
	char *text = NULL;
	size_t len = 0;
	int ret = read_file(file, &text, &len);
	if (ret)
		return ret;
	json_t *doc = NULL;
	struct errbuf eb = {""};
	enum rc rc = attest_json_verify(text, len, pk, &doc, &eb);
	free(text);
	char id[SIGNKEY_ID_LEN];
	signkey_id(pk, id);
	if (rc == RC_CRYPTO) {
		printf("signature: INVALID: %s\n", eb.msg);
		ret = CLI_REFUSED;
	} else if (rc) {
		ret = cli_fail("attest verify", rc, &eb);
	} else {
		printf("signature: valid (ed25519 key %s)\n", id);
		if (rerun_claims)
			ret = rerun(o, doc);
	}
	json_decref(doc);
	return ret;
}

int cli_attest(int argc, char **argv)
{
	const char *out = NULL, *html = NULL, *format = NULL, *public_key = NULL;
	bool dir_given = false;
	char *rest[64];
	int nrest = 0;
	for (int i = 0; i < argc; i++) {
		bool has_value = i + 1 < argc;
		if (!strcmp(argv[i], "--out") && has_value)
			out = argv[++i];
		else if (!strcmp(argv[i], "--html") && has_value)
			html = argv[++i];
		else if (!strcmp(argv[i], "--format") && has_value)
			format = argv[++i];
		else if (!strcmp(argv[i], "--public-key") && has_value)
			public_key = argv[++i];
		else if (nrest < 63) {
			dir_given |= !strcmp(argv[i], "--dir") || !strncmp(argv[i], "--dir=", 6);
			rest[nrest++] = argv[i];
		} else {
			cli_usage_error("attest", "too many arguments");
			return CLI_USAGE;
		}
	}
	rest[nrest] = NULL;
	struct cli_opts o;
	int ret = cli_parse(nrest, rest, "attest", attest_help, CLI_OPT_DIR | CLI_OPT_TENANT, &o);
	if (ret >= 0)
		return ret;
	const char *sub = o.argc ? o.argv[0] : "";
	if (format && strcmp(format, "json") && strcmp(format, "html")) {
		cli_usage_error("attest", "--format is json or html");
		return CLI_USAGE;
	}
	if (!strcmp(sub, "key") && o.argc == 1 && !out && !html && !format && !public_key)
		return key(&o);
	if (!strcmp(sub, "verify") && o.argc == 2 && !out && !html && !format)
		return verify(&o, o.argv[1], public_key, dir_given);
	if (o.argc == 0 && !public_key)
		return make(&o, out, html, format && !strcmp(format, "html"));
	cli_usage_error("attest", "expected 'attest [--out FILE]', 'attest key' or 'attest verify FILE'");
	return CLI_USAGE;
}
