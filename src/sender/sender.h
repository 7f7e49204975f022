/*
 * sender: delivers the outbox over SMTP (libcurl), in a thread of its own,
 * and the notifications to systems and recipients (core/notify) as signed
 * webhooks (HTTP POST, Standard Webhooks): a 2xx answer within
 * NOTIFY_TIMEOUT_SECONDS acknowledges one, and may complete its request
 * (request_notification_done); anything else is retried like an e-mail.
 * Without SMTP (smtp_url NULL) it delivers webhooks alone.
 *
 * A message is marked sent only after the SMTP server has accepted it; one
 * that fails waits and is tried again with growing pauses (5 s, 10 s, ...,
 * at most an hour), for ever: nothing is dropped but mail to a subject who
 * has been erased meanwhile (their key is gone, and so is the message). A
 * restart picks up where the outbox stands. If the process dies after the
 * server accepted a message and before it was marked sent, that one message
 * goes out again once its claim expires, with the same Message-ID so that
 * it can be recognised.
 *
 * Each message is claimed before it is sent (mail_claim, for
 * SENDER_CLAIM_SECONDS, well over libcurl's connect and transfer timeouts):
 * senders sharing one outbox, in one process or several, never send one
 * message twice while they live, and a message whose sender died is taken
 * up again when the claim runs out, or at once by the next server of a
 * SQLite register (which has one server at a time: sender_config.sole).
 */
#ifndef PRIVREG_SENDER_H
#define PRIVREG_SENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "core/tenant.h"

/* How long a claim holds: libcurl gives up on one message within 35 s. */
#define SENDER_CLAIM_SECONDS 300

struct sender;
struct store;

struct sender_config {
	const char *smtp_url;      /* smtp://host:port, smtps://... (user:pass@ in it still works); NULL: no e-mail */
	const char *user;          /* NULL, or the SMTP AUTH user */
	const char *password;      /* NULL, or its password: copied, and the copy wiped at stop */
	const char *from;          /* the From: and envelope sender */
	int poll_ms;               /* how often the outbox is looked at; 0: 200 */
	/* How the sender finds a message's tenant (the server's loaded ones). */
	enum rc (*tenant_of)(void *arg, struct store *st, int64_t id, const struct tenant **out);
	void *arg;
	/* The only sender of its outbox (the SQLite register's lock): the
	 * claims left by a killed predecessor are released at start, so that
	 * its messages go out now, not when the claims run out. */
	bool sole;
};

/* Takes the store connection. */
enum rc sender_start(const struct sender_config *cfg, struct store *st, struct sender **out,
                     struct errbuf *eb) WUR;
void sender_stop(struct sender *s);
/* Delivery attempts that failed since start (each one waits and is tried
 * again); 0 for NULL (no sender). Any thread may ask. */
uint64_t sender_failures(struct sender *s);

#endif
