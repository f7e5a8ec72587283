/* SPDX-License-Identifier: MIT */
/* Intrusive doubly linked list, for LRU orders (oldest at the head). */
#ifndef INFERTRACE_LIST_H
#define INFERTRACE_LIST_H

#include <stddef.h>

struct list_node {
	struct list_node *prev, *next;
};

#define LIST_INIT(name) { &(name), &(name) }
#define list_entry(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
/* Not safe against deleting it: keep the next node first for that. */
#define list_for_each(it, head) for ((it) = (head)->next; (it) != (head); (it) = (it)->next)

static inline void list_init(struct list_node *h)
{
	h->prev = h->next = h;
}

static inline int list_empty(const struct list_node *h)
{
	return h->next == h;
}

static inline void list_del(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static inline void list_add_tail(struct list_node *h, struct list_node *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void list_move_tail(struct list_node *h, struct list_node *n)
{
	list_del(n);
	list_add_tail(h, n);
}

#endif
