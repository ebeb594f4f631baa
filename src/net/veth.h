/* Interfaces of --net filtered: a veth pair made with rtnetlink, addresses,
 * link state and the default route set with ioctls. Every function works in
 * the caller's network namespace, never prints, allocates nothing and is
 * async-signal-safe (the box init calls veth_configure and
 * veth_default_route between clone and exec). Addresses are in network
 * byte order. */
#ifndef CLAWBOX_VETH_H
#define CLAWBOX_VETH_H
#include "util/common.h"

/* Create the pair host_name (here) <-> peer_name, the peer created straight
 * in the network namespace of process peer_pid. -EEXIST if host_name exists. */
int veth_create(const char *host_name, const char *peer_name, pid_t peer_pid);
/* Delete the link ifname (a veth takes its peer with it). -ENODEV if none. */
int veth_delete(const char *ifname);
/* Give ifname the address addr/prefix and bring it up. */
int veth_configure(const char *ifname, uint32_t addr, int prefix);
/* A default route via gateway. */
int veth_default_route(uint32_t gateway);

#endif
