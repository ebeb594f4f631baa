/* The box's side of its network: eth0, the ruleset, the NFLOG socket. */
#include "util/common.h"

#include "net/netbox.h"
#include "net/nflog.h"
#include "net/nftload.h"
#include "net/veth.h"

int netbox_setup(const struct netbox_spec *n, int *ret_nflog, const char **ret_what)
{
	int r;
	*ret_nflog = -1;
	if (n->filtered) {
		*ret_what = "configure the box's interface " NETBOX_IFNAME;
		if ((r = veth_configure(NETBOX_IFNAME, n->addr, n->prefix)) < 0)
			return r;
		*ret_what = "add the box's default route";
		if ((r = veth_default_route(n->gateway)) < 0)
			return r;
	}
	*ret_what = "load the box's nftables ruleset";
	if ((r = nftload(n->filtered ? NFTLOAD_BOX_FILTERED : NFTLOAD_BOX_CLOSED)) < 0)
		return r;
	if (n->filtered) {
		*ret_what = "open the NFLOG socket of the box's firewall";
		if ((r = nflog_open()) < 0)
			return r;
		*ret_nflog = r;
	}
	return 0;
}
