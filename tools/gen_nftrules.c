/* Build tool: build clawbox's static nftables rulesets with libnftnl as
 * netlink batches (NFNL_MSG_BATCH_BEGIN, the table, its chains and rules,
 * NFNL_MSG_BATCH_END) and print them as a C header (build/gen/nftrules.h)
 * of byte arrays that src/net/nftload.c sends as they are. The same rulesets as
 * nft text, exactly as `nft list ruleset` prints them, are in
 * tools/nftrules.nft; tests/integration/t-netfilter.sh compares the two on a
 * running box. Every message but the batch markers asks for an ack.
 *
 * Rulesets:
 *   box_closed    --net proxy and none: loopback only, in the box's netns
 *   box_filtered  --net filtered: the original's table, in the box's netns
 *   host_nat      --net filtered, host: masquerade, no host input from boxes
 *   host_guard    --net filtered, host: forwarding only to and from boxes
 * The host ones replace their table atomically (add, delete, add), so
 * loading them again is harmless. */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>

#include "net/nftrules_def.h"

#define BUF_SIZE 16384

struct gen {
	struct mnl_nlmsg_batch *batch;
	uint32_t seq;
	uint16_t family;
	const char *table;
	struct nftnl_rule *rule; /* the rule being built */
};

static void die(const char *what)
{
	fprintf(stderr, "gen_nftrules: %s\n", what);
	exit(1);
}

static char *next(struct gen *g)
{
	if (!mnl_nlmsg_batch_next(g->batch))
		die("batch buffer too small");
	return mnl_nlmsg_batch_current(g->batch);
}

static void table_msg(struct gen *g, uint16_t type, uint16_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, g->table);
	struct nlmsghdr *h = nftnl_table_nlmsg_build_hdr(mnl_nlmsg_batch_current(g->batch), type,
							 g->family, flags | NLM_F_ACK, g->seq++);
	nftnl_table_nlmsg_build_payload(h, t);
	nftnl_table_free(t);
	next(g);
}

static void chain(struct gen *g, const char *name, const char *type, uint32_t hook, int prio,
		  uint32_t policy)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, g->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, policy);
	struct nlmsghdr *h =
	    nftnl_chain_nlmsg_build_hdr(mnl_nlmsg_batch_current(g->batch), NFT_MSG_NEWCHAIN,
					g->family, NLM_F_CREATE | NLM_F_ACK, g->seq++);
	nftnl_chain_nlmsg_build_payload(h, c);
	nftnl_chain_free(c);
	next(g);
}

static void rule_begin(struct gen *g, const char *chain_name)
{
	g->rule = nftnl_rule_alloc();
	nftnl_rule_set_str(g->rule, NFTNL_RULE_TABLE, g->table);
	nftnl_rule_set_str(g->rule, NFTNL_RULE_CHAIN, chain_name);
	nftnl_rule_set_u32(g->rule, NFTNL_RULE_FAMILY, g->family);
}

static void rule_end(struct gen *g)
{
	struct nlmsghdr *h = nftnl_rule_nlmsg_build_hdr(
	    mnl_nlmsg_batch_current(g->batch), NFT_MSG_NEWRULE, g->family,
	    NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, g->seq++);
	nftnl_rule_nlmsg_build_payload(h, g->rule);
	nftnl_rule_free(g->rule);
	g->rule = NULL;
	next(g);
}

static struct nftnl_expr *expr(struct gen *g, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);
	if (!e)
		die(name);
	nftnl_rule_add_expr(g->rule, e);
	return e;
}

/* meta KEY into register 1 */
static void meta(struct gen *g, uint32_t key)
{
	struct nftnl_expr *e = expr(g, "meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
}

static void cmp(struct gen *g, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr(g, "cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void payload(struct gen *g, uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = expr(g, "payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
}

/* register 1 &= mask (len bytes) */
static void mask(struct gen *g, const void *m, uint32_t len)
{
	uint8_t zero[16] = { 0 };
	struct nftnl_expr *e = expr(g, "bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, m, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
}

static void verdict(struct gen *g, int v)
{
	struct nftnl_expr *e = expr(g, "immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
}

/* iif "lo" / oif "lo": lo is ifindex 1 in every network namespace. */
static void match_lo(struct gen *g, uint32_t key)
{
	uint32_t lo = 1;
	meta(g, key);
	cmp(g, NFT_CMP_EQ, &lo, sizeof(lo));
}

/* iifname / oifname "PREFIX*" (op EQ) or != "PREFIX*" (op NEQ) */
static void match_ifprefix(struct gen *g, uint32_t key, uint32_t op, const char *prefix)
{
	meta(g, key);
	cmp(g, op, prefix, (uint32_t)strlen(prefix));
}

static void match_nfproto(struct gen *g, uint8_t proto)
{
	meta(g, NFT_META_NFPROTO);
	cmp(g, NFT_CMP_EQ, &proto, 1);
}

static void match_l4proto(struct gen *g, uint8_t proto)
{
	meta(g, NFT_META_L4PROTO);
	cmp(g, NFT_CMP_EQ, &proto, 1);
}

/* ct state established,related */
static void match_ct_established(struct gen *g)
{
	uint32_t bits = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
	uint32_t zero = 0;
	struct nftnl_expr *e = expr(g, "ct");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	mask(g, &bits, sizeof(bits));
	cmp(g, NFT_CMP_NEQ, &zero, sizeof(zero));
}

/* tcp dport N / udp dport N (inet: the l4proto check comes first) */
static void match_dport(struct gen *g, uint8_t proto, uint16_t port)
{
	uint16_t be = htons(port);
	match_l4proto(g, proto);
	payload(g, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	cmp(g, NFT_CMP_EQ, &be, sizeof(be));
}

/* ip saddr/daddr ADDR/LEN; inet tables check the family first */
static void match_ip4net(struct gen *g, bool inet, uint32_t offset, const char *addr, int len)
{
	struct in_addr a;
	uint32_t m = len ? htonl(~0U << (32 - len)) : 0;
	if (inet_pton(AF_INET, addr, &a) != 1)
		die(addr);
	if (inet)
		match_nfproto(g, NFPROTO_IPV4);
	payload(g, NFT_PAYLOAD_NETWORK_HEADER, offset, 4);
	mask(g, &m, sizeof(m));
	cmp(g, NFT_CMP_EQ, &a.s_addr, sizeof(a.s_addr));
}

static void log_group(struct gen *g, const char *prefix)
{
	struct nftnl_expr *e = expr(g, "log");
	nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
	nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, NFTRULES_NFLOG_GROUP);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_SNAPLEN, NFTRULES_NFLOG_SNAPLEN);
}

/* limit rate NFTRULES_LOG_RATE/second burst NFTRULES_LOG_BURST packets:
 * matches while under that rate (its own bucket per rule). */
static void limit_rate(struct gen *g)
{
	struct nftnl_expr *e = expr(g, "limit");
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, NFTRULES_LOG_RATE);
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, NFTRULES_LOG_BURST);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
}

static void reject(struct gen *g, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = expr(g, "reject");
	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
}

static void accept_lo(struct gen *g)
{
	rule_begin(g, "input");
	match_lo(g, NFT_META_IIF);
	verdict(g, NF_ACCEPT);
	rule_end(g);
	rule_begin(g, "output");
	match_lo(g, NFT_META_OIF);
	verdict(g, NF_ACCEPT);
	rule_end(g);
}

static void accept_established(struct gen *g, const char *chain_name)
{
	rule_begin(g, chain_name);
	match_ct_established(g);
	verdict(g, NF_ACCEPT);
	rule_end(g);
}

static void box_closed(struct gen *g)
{
	table_msg(g, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	chain(g, "input", "filter", NF_INET_LOCAL_IN, 0, NF_DROP);
	chain(g, "output", "filter", NF_INET_LOCAL_OUT, 0, NF_DROP);
	accept_lo(g);
}

/* Logged (NFLOG, prefix dir) and rejected: TCP with a reset, the rest of
 * IPv4 with an ICMP "administratively prohibited"; IPv6 (the box has no
 * IPv6 route; its link-local chatter is not worth a log line) is dropped.
 * The log is rate-limited in the kernel (each a line of the audit log: a
 * flood of denied packets must not fill the disk); over the rate the
 * packets are rejected all the same, unlogged. */
static void log_and_reject(struct gen *g, const char *chain_name, const char *dir)
{
	rule_begin(g, chain_name);
	match_nfproto(g, NFPROTO_IPV6);
	verdict(g, NF_DROP);
	rule_end(g);
	for (int logged = 1; logged >= 0; logged--) {
		rule_begin(g, chain_name);
		match_l4proto(g, IPPROTO_TCP);
		if (logged) {
			limit_rate(g);
			log_group(g, dir);
		}
		reject(g, NFT_REJECT_TCP_RST, 0);
		rule_end(g);
	}
	for (int logged = 1; logged >= 0; logged--) {
		rule_begin(g, chain_name);
		if (logged) {
			limit_rate(g);
			log_group(g, dir);
		}
		reject(g, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		rule_end(g);
	}
}

static void box_filtered(struct gen *g)
{
	static const struct {
		uint8_t proto;
		uint16_t port;
	} out[] = {
		{ IPPROTO_TCP, 443 }, { IPPROTO_TCP, 80 },  { IPPROTO_UDP, 53 },
		{ IPPROTO_TCP, 53 },  { IPPROTO_UDP, 123 }, { IPPROTO_UDP, 41641 },
	};
	box_closed(g);
	accept_established(g, "input");
	log_and_reject(g, "input", NFTRULES_PREFIX_IN);
	accept_established(g, "output");
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		rule_begin(g, "output");
		match_dport(g, out[i].proto, out[i].port);
		verdict(g, NF_ACCEPT);
		rule_end(g);
	}
	rule_begin(g, "output");
	match_ip4net(g, true, 16, "100.64.0.0", 10);
	verdict(g, NF_ACCEPT);
	rule_end(g);
	log_and_reject(g, "output", NFTRULES_PREFIX_OUT);
}

/* The table, replaced as a whole: add (a no-op if it exists), delete, add. */
static void replace_table(struct gen *g)
{
	table_msg(g, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	table_msg(g, NFT_MSG_DELTABLE, 0);
	table_msg(g, NFT_MSG_NEWTABLE, NLM_F_CREATE);
}

static void host_nat(struct gen *g)
{
	replace_table(g);
	chain(g, "postrouting", "nat", NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC, NF_ACCEPT);
	chain(g, "input", "filter", NF_INET_LOCAL_IN, 0, NF_ACCEPT);
	rule_begin(g, "postrouting");
	match_ip4net(g, false, 12, NFTRULES_POOL, NFTRULES_POOL_LEN);
	match_ifprefix(g, NFT_META_OIFNAME, NFT_CMP_NEQ, NFTRULES_IFPREFIX);
	expr(g, "masq");
	rule_end(g);
	/* A box reaches the outside, never the host's own services. */
	rule_begin(g, "input");
	match_ifprefix(g, NFT_META_IIFNAME, NFT_CMP_EQ, NFTRULES_IFPREFIX);
	match_ct_established(g);
	verdict(g, NF_ACCEPT);
	rule_end(g);
	rule_begin(g, "input");
	match_ifprefix(g, NFT_META_IIFNAME, NFT_CMP_EQ, NFTRULES_IFPREFIX);
	verdict(g, NF_DROP);
	rule_end(g);
}

static void host_guard(struct gen *g)
{
	replace_table(g);
	chain(g, "forward", "filter", NF_INET_FORWARD, 0, NF_DROP);
	rule_begin(g, "forward");
	match_ifprefix(g, NFT_META_IIFNAME, NFT_CMP_EQ, NFTRULES_IFPREFIX);
	verdict(g, NF_ACCEPT);
	rule_end(g);
	rule_begin(g, "forward");
	match_ifprefix(g, NFT_META_OIFNAME, NFT_CMP_EQ, NFTRULES_IFPREFIX);
	match_ct_established(g);
	verdict(g, NF_ACCEPT);
	rule_end(g);
}

static void emit(const char *name, uint16_t family, const char *table, void (*build)(struct gen *))
{
	static char buf[BUF_SIZE];
	struct gen g = { .seq = 1, .family = family, .table = table };
	g.batch = mnl_nlmsg_batch_start(buf, sizeof(buf) / 2);
	nftnl_batch_begin(mnl_nlmsg_batch_current(g.batch), g.seq++);
	next(&g);
	build(&g);
	nftnl_batch_end(mnl_nlmsg_batch_current(g.batch), g.seq++);
	next(&g);
	const uint8_t *p = mnl_nlmsg_batch_head(g.batch);
	size_t n = mnl_nlmsg_batch_size(g.batch);
	printf("static const unsigned char nftrules_%s[%zu] __attribute__((aligned(4))) = {", name,
	       n);
	for (size_t i = 0; i < n; i++)
		printf("%s0x%02x,", i % 12 ? " " : "\n\t", p[i]);
	printf("\n};\n\n");
	mnl_nlmsg_batch_stop(g.batch);
}

int main(void)
{
	printf("/* Generated by tools/gen_nftrules.c (text: tools/nftrules.nft). */\n\n");
	emit("box_closed", NFPROTO_INET, NFTRULES_BOX_TABLE, box_closed);
	emit("box_filtered", NFPROTO_INET, NFTRULES_BOX_TABLE, box_filtered);
	emit("host_nat", NFPROTO_IPV4, NFTRULES_HOST_TABLE, host_nat);
	emit("host_guard", NFPROTO_IPV4, NFTRULES_GUARD_TABLE, host_guard);
	return 0;
}
