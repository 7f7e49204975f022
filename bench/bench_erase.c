/*
 * bench_erase: erasure throughput through core/ (subject_erase): subjects with
 * 20 records each (an account, 18 orders, one accounting entry that the law
 * keeps, so every erasure also re-seals one record under a new key), on a
 * register of N such subjects. Two ways: one transaction per erasure (as a
 * request's completion does: durable commit each), and 100 erasures per
 * transaction (a bulk job). Usage: bench_erase [SUBJECTS] [POLICY]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/subject.h"
#include "core/tenant.h"
#include "store/store.h"

#define RECORDS 20

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct field_input S(const char *name, const char *v)
{
	return (struct field_input){name, {VAL_STRING, v, strlen(v)}};
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4000;
	const char *policy = argc > 2 ? argv[2] : "policies/webshop.yaml";
	if (vault_library_init() || store_library_init() || n < 200)
		return 2;
	char dir[] = "/tmp/privreg-erase-XXXXXX", keydir[64], url[96];
	if (!mkdtemp(dir))
		return 1;
	snprintf(keydir, sizeof keydir, "%s/keys", dir);
	snprintf(url, sizeof url, "sqlite:%s/privreg.db", dir);
	mkdir(keydir, 0700);
	FILE *f = fopen(policy, "r");
	static char src[1 << 20];
	size_t len = f ? fread(src, 1, sizeof src - 1, f) : 0;
	if (f)
		fclose(f);
	src[len] = '\0';
	struct store *s = NULL;
	struct tenant *t = NULL;
	struct errbuf eb = {""};
	int64_t tid;
	if (store_open(url, &s, &eb) || tenant_create(s, keydir, "bench", src, &tid, &eb) ||
	    tenant_open(s, keydir, "bench", &t, &eb)) {
		fprintf(stderr, "setup: %s\n", eb.msg);
		return 1;
	}
	struct core_ctx c = {.store = s, .tenant = t};
	char (*ids)[TOKEN_ID_MAX] = calloc((size_t)n, sizeof *ids);
	struct field_input acc[3], ord[4], book[3];
	char email[64];
	acc[1] = S("name", "Mari Tamm");
	acc[2] = S("phone", "+372 5123 4567");
	ord[0] = S("name", "Mari Tamm");
	ord[1] = S("delivery_address", "Pikk 1, Tallinn");
	ord[2] = (struct field_input){"items", {VAL_JSON, "[{\"sku\":\"KB-1\",\"qty\":1}]", 25}};
	ord[3] = S("amount", "49.90");
	book[0] = S("name", "Mari Tamm");
	book[1] = S("amount", "49.90");
	book[2] = S("payment_ref", "INV-1");
	struct event_input ev[] = {{"fulfilled", "2024-03-02"}};
	struct record_input recs[RECORDS];
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		snprintf(email, sizeof email, "erase%d@example.ee", i);
		acc[0] = S("email", email);
		recs[0] = (struct record_input){.kind = "account", .fields = acc, .nfields = 3};
		for (int k = 1; k < RECORDS - 1; k++)
			recs[k] = (struct record_input){.kind = "order", .fields = ord, .nfields = 4};
		recs[RECORDS - 1] = (struct record_input){.kind = "accounting_entry", .fields = book, .nfields = 3,
		                                          .events = ev, .nevents = 1};
		char rids[RECORDS][TOKEN_ID_MAX];
		if ((i % 500 == 0 && store_begin(s)) || subject_create(&c, recs, RECORDS, ids[i], rids, &eb) ||
		    ((i % 500 == 499 || i == n - 1) && store_commit(s))) {
			fprintf(stderr, "create %d: %s\n", i, eb.msg);
			return 1;
		}
	}
	printf("created %d subjects x %d records in %.1f s\n", n, RECORDS, now_s() - t0);
	int half = n / 2;
	t0 = now_s();
	for (int i = 0; i < half; i++) {
		struct subject_erasure er;
		if (subject_erase(&c, ids[i], &er, &eb)) {
			fprintf(stderr, "erase %d: %s\n", i, eb.msg);
			return 1;
		}
		subject_erasure_fini(&er);
	}
	double one = half / (now_s() - t0);
	t0 = now_s();
	for (int i = half; i < n; i++) {
		struct subject_erasure er;
		if ((i - half) % 100 == 0 && store_begin(s))
			return 1;
		if (subject_erase(&c, ids[i], &er, &eb)) {
			fprintf(stderr, "erase %d: %s\n", i, eb.msg);
			return 1;
		}
		subject_erasure_fini(&er);
		if (((i - half) % 100 == 99 || i == n - 1) && store_commit(s))
			return 1;
	}
	double batch = (n - half) / (now_s() - t0);
	printf("erasure, one transaction each (durable commit each): %.0f subjects/s\n", one);
	printf("erasure, 100 per transaction: %.0f subjects/s\n", batch);
	free(ids);
	tenant_free(t);
	store_close(s);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
