/* Brokered credentials in a run (docs/SECRETS.md, "Brokered credentials"):
 * the box's rules (src/secrets/broker.h), its CA (src/net/brokerca.h) and
 * the CA bundle the box trusts, the placeholders that stand for the values
 * in the box's environment, and what the proxy needs (struct proxy_broker).
 * A box without rules pays nothing: no libssl, no CA, no bundle. Command
 * layer: reports its own errors. */
#ifndef CLAWBOX_LAUNCH_BROKER_H
#define CLAWBOX_LAUNCH_BROKER_H
#include "util/common.h"

#include <jansson.h>

#define LAUNCH_BROKER_BUNDLE "broker-bundle.pem" /* in the box's state dir */

struct box;
struct proxy_broker;
struct secrets;
struct strv;
struct launch_broker;

/* Before the box starts: the box's rules; none: *ret = NULL. Else libssl
 * loaded, the CA opened for every rule's host and the box's CA bundle (the
 * host's, then the box's CA) written to $BOX/LAUNCH_BROKER_BUNDLE, for
 * rootfs_spec.ca_bundle. 0, or -errno after an error message. */
int launch_broker_prepare(const struct box *b, struct launch_broker **ret);

/* The bundle's host path; NULL for lb NULL. */
const char *launch_broker_bundle(const struct launch_broker *lb);

/* The proxy's part (empty until launch_broker_secrets); NULL for lb NULL. */
const struct proxy_broker *launch_broker_proxy(const struct launch_broker *lb);

/* Once the run's secrets are loaded, before the box's command starts: each
 * rule with a value in secrets is brokered (the proxy gets the value, which
 * must stay in secrets until the proxy stops), and *ret_shown is a copy of
 * secrets with the placeholder instead, for the box's environment; env
 * gets the CA variables (SSL_CERT_FILE and the like). lb NULL: *ret_shown
 * NULL (give secrets as they are). 0, or -errno after an error message
 * (a value that cannot have a placeholder: the run must not start). */
int launch_broker_secrets(struct launch_broker *lb, const struct box *b,
			  const struct secrets *secrets, struct secrets **ret_shown,
			  struct strv *env);

/* The names brokered in this run, for run.start (an empty array for NULL). */
json_t *launch_broker_json(const struct launch_broker *lb);

/* NULL is fine; returns NULL. Only once the proxy has stopped. */
struct launch_broker *launch_broker_free(struct launch_broker *lb);

#endif
