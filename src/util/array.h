/* Growing arrays: make room for one more item. */
#ifndef CLAWBOX_ARRAY_H
#define CLAWBOX_ARRAY_H
#include "util/common.h"

/* Ensure *items (of *cap elements of size bytes) has room for element n,
 * doubling the capacity (first 8). -ENOMEM on overflow or allocation
 * failure, leaving *items and *cap as they were. */
int array_grow(void **items, size_t *cap, size_t n, size_t size);

/* array_grow for an array of n items that keeps no capacity: the capacity
 * is implied by n (0, 8, then powers of two), so *items must only ever be
 * allocated through this function (NULL while n is 0). */
int array_grow_counted(void **items, size_t n, size_t size);

#endif
