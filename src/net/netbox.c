/* The box's side of its network: eth0, the ruleset, the NFLOG socket. */
#include "util/common.h"

#include "net/netbox.h"
#include "net/nflog.h"
#include "net/nftload.h"
#include "net/veth.h"
#include "util/error.h"

int netbox_setup(const struct netbox_spec *n, int *ret_nflog, struct error *err)
{
	int r;
	*ret_nflog = -1;
	if (n->filtered && (r = veth_configure(NETBOX_IFNAME, n->addr, n->prefix)) < 0)
		return error_errno(err, r, "configure the box's interface '%s'", NETBOX_IFNAME);
	if (n->filtered && (r = veth_default_route(n->gateway)) < 0)
		return error_errno(err, r, "add the box's default route");
	if ((r = nftload(n->filtered ? NFTLOAD_BOX_FILTERED : NFTLOAD_BOX_CLOSED)) < 0)
		return error_errno(err, r, "load the box's nftables ruleset");
	if (n->filtered) {
		if ((r = nflog_open()) < 0)
			return error_errno(err, r, "open the NFLOG socket of the box's firewall");
		*ret_nflog = r;
	}
	return 0;
}
