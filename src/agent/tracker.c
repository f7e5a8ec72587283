// SPDX-License-Identifier: MIT
#include "agent/tracker.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proto/proto.h"
#include "util/htab.h"
#include "util/list.h"

struct proc {
	uint32_t pid;
	char comm[IT_COMM_LEN + 1];
	uint64_t cgroup_id;
	/* this interval */
	uint64_t bytes_sent, bytes_received, calls;
	uint32_t conns_active;     /* connections with traffic this interval */
	uint64_t interval_seq;     /* interval the counters belong to */
	/* inference requests this interval; tokens as the provider reported
	 * them, estimates apart (never mixed with billed numbers) */
	uint64_t requests;
	uint64_t input_tokens, output_tokens;
	uint64_t est_input_tokens, est_output_tokens;
	uint64_t last_ns;
	struct list_node lru;
};

struct conn {
	uint32_t pid;
	uint64_t conn_id;
	uint8_t source;
	struct it_sock sock;
	char comm[IT_COMM_LEN + 1];
	uint64_t cgroup_id;
	uint64_t bytes_sent, bytes_received, calls;
	uint64_t start_ns, last_ns;
	uint64_t interval_seq;     /* last interval it was counted active in */
	struct conn *sk_next;      /* other connections on the same socket */
	struct list_node lru;
	struct proto_conn *proto;  /* HTTP state; NULL until the first payload */
	struct tracker *t;
};

struct tracker {
	struct tracker_opts opts;
	struct tracker_hooks hooks;
	struct jsonl *out;
	struct htab *procs;        /* pid -> proc */
	struct htab *conns;        /* (pid, conn_id) -> conn */
	struct htab *by_sock;      /* struct sock * -> first conn on it */
	struct list_node proc_lru, conn_lru;
	uint64_t interval_seq;
	uint64_t interval_start_ns;
	struct tracker_stats st;
};

const char *source_name(uint8_t source)
{
	switch (source) {
	case IT_SRC_OPENSSL:
		return "openssl";
	case IT_SRC_GNUTLS:
		return "gnutls";
	default:
		return NULL;
	}
}

void addr_format(uint16_t family, const uint8_t addr[16], char *buf, size_t len)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (family == AF_INET6 && memcmp(addr, v4mapped, sizeof(v4mapped)) == 0)
		inet_ntop(AF_INET, addr + 12, buf, len);
	else if (family == AF_INET6)
		inet_ntop(AF_INET6, addr, buf, len);
	else if (family == AF_INET)
		inet_ntop(AF_INET, addr, buf, len);
	else
		snprintf(buf, len, "unknown");
}

static uint64_t conn_key(uint32_t pid, uint64_t conn_id)
{
	return htab_key2(pid, conn_id);
}

struct tracker *tracker_new(const struct tracker_opts *opts, const struct tracker_hooks *hooks,
			    struct jsonl *out)
{
	struct tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->opts = *opts;
	if (!t->opts.max_conns)
		t->opts.max_conns = 65536;
	if (!t->opts.max_procs)
		t->opts.max_procs = 16384;
	if (hooks)
		t->hooks = *hooks;
	t->out = out;
	t->procs = htab_new();
	t->conns = htab_new();
	t->by_sock = htab_new();
	list_init(&t->proc_lru);
	list_init(&t->conn_lru);
	t->interval_seq = 1;
	t->interval_start_ns = opts->start_ns;
	if (!t->procs || !t->conns || !t->by_sock) {
		tracker_free(t);
		return NULL;
	}
	return t;
}

void tracker_free(struct tracker *t)
{
	size_t it = 0;
	void *v;

	if (!t)
		return;
	if (t->procs)
		while (htab_next(t->procs, &it, NULL, &v))
			free(v);
	it = 0;
	if (t->conns)
		while (htab_next(t->conns, &it, NULL, &v))
			free(v);
	htab_free(t->procs);
	htab_free(t->conns);
	htab_free(t->by_sock);
	free(t);
}

static uint64_t real_ns(const struct tracker *t, uint64_t mono_ns)
{
	return (uint64_t)((int64_t)mono_ns + t->opts.mono_to_real_ns);
}

static void emit(struct tracker *t, cJSON *rec)
{
	if (!rec || jsonl_write(t->out, rec))
		t->st.write_errors++;
}

static void set_comm(char dst[IT_COMM_LEN + 1], const char *src)
{
	memcpy(dst, src, IT_COMM_LEN);
	dst[IT_COMM_LEN] = '\0';
}

/* ---- processes ---- */

static void proc_reset(struct proc *p)
{
	p->bytes_sent = p->bytes_received = p->calls = 0;
	p->conns_active = 0;
	p->requests = p->input_tokens = p->output_tokens = 0;
	p->est_input_tokens = p->est_output_tokens = 0;
}

static void usage_record(struct tracker *t, struct proc *p, uint64_t end_ns, bool partial)
{
	uint64_t start = t->interval_start_ns;
	bool extra = false;
	cJSON *r;

	if (p->interval_seq != t->interval_seq)
		return;
	if (start > end_ns)
		start = end_ns;
	r = record_new("usage", real_ns(t, end_ns));
	if (!r) {
		t->st.write_errors++;
		goto out;
	}
	json_add_u64(r, "pid", p->pid);
	cJSON_AddStringToObject(r, "comm", p->comm);
	json_add_u64(r, "cgroup_id", p->cgroup_id);
	if (t->hooks.proc_fields)
		t->hooks.proc_fields(t->hooks.ctx, p->pid, p->cgroup_id, r);
	json_add_time(r, "interval_start", real_ns(t, start));
	json_add_time(r, "interval_end", real_ns(t, end_ns));
	json_add_u64(r, "bytes_sent", p->bytes_sent);
	json_add_u64(r, "bytes_received", p->bytes_received);
	json_add_u64(r, "connections", p->conns_active);
	json_add_u64(r, "calls", p->calls);
	json_add_u64(r, "requests", p->requests);
	json_add_u64(r, "gen_ai.usage.input_tokens", p->input_tokens);
	json_add_u64(r, "gen_ai.usage.output_tokens", p->output_tokens);
	json_add_u64(r, "estimated_input_tokens", p->est_input_tokens);
	json_add_u64(r, "estimated_output_tokens", p->est_output_tokens);
	if (t->hooks.usage_extra)
		extra = t->hooks.usage_extra(t->hooks.ctx, p->pid, r);
	cJSON_AddBoolToObject(r, "partial", partial);
	if (!p->calls && !p->conns_active && !p->requests && !extra)
		cJSON_Delete(r); /* nothing happened in this interval */
	else
		emit(t, r);
out:
	proc_reset(p);
}

static void proc_drop(struct tracker *t, struct proc *p)
{
	list_del(&p->lru);
	htab_del(t->procs, p->pid);
	free(p);
}

static struct proc *proc_get(struct tracker *t, uint32_t pid, const char *comm, uint64_t cgroup_id,
			     uint64_t now)
{
	struct proc *p = htab_get(t->procs, pid);

	if (!p) {
		if (htab_count(t->procs) >= t->opts.max_procs && !list_empty(&t->proc_lru)) {
			struct proc *old = list_entry(t->proc_lru.next, struct proc, lru);

			usage_record(t, old, old->last_ns, true);
			proc_drop(t, old);
			t->st.procs_evicted++;
		}
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		p->pid = pid;
		list_init(&p->lru);
		if (htab_put(t->procs, pid, p)) {
			free(p);
			return NULL;
		}
		list_add_tail(&t->proc_lru, &p->lru);
	} else {
		list_move_tail(&t->proc_lru, &p->lru);
	}
	if (comm)
		set_comm(p->comm, comm);
	p->cgroup_id = cgroup_id;
	p->last_ns = now;
	if (p->interval_seq != t->interval_seq) {
		p->interval_seq = t->interval_seq;
		proc_reset(p);
	}
	return p;
}

/* ---- connections ---- */

static const char *role_name(uint8_t role)
{
	return role == IT_ROLE_CLIENT ? "client" : role == IT_ROLE_SERVER ? "server" : "unknown";
}

static uint8_t conn_role(struct tracker *t, const struct conn *c)
{
	if (c->sock.role != IT_ROLE_UNKNOWN || !c->sock.sk)
		return c->sock.role;
	/* opened before the agent: a listening socket on our port means we accepted it */
	if (t->hooks.port_listening)
		return t->hooks.port_listening(t->hooks.ctx, c->sock.lport) ? IT_ROLE_SERVER
									     : IT_ROLE_CLIENT;
	return IT_ROLE_UNKNOWN;
}

static void add_endpoint(cJSON *r, const char *prefix, const struct it_sock *s, bool local)
{
	char key[32], addr[64];

	snprintf(key, sizeof(key), "%s.address", prefix);
	if (!s->sk) {
		cJSON_AddNullToObject(r, key);
	} else {
		addr_format(s->family, local ? s->laddr : s->raddr, addr, sizeof(addr));
		cJSON_AddStringToObject(r, key, addr);
	}
	snprintf(key, sizeof(key), "%s.port", prefix);
	if (!s->sk)
		cJSON_AddNullToObject(r, key);
	else
		json_add_u64(r, key, local ? s->lport : s->rport);
}

static void conn_record(struct tracker *t, struct conn *c, uint64_t end_ns, const char *reason)
{
	uint8_t role = conn_role(t, c);
	const char *lib = source_name(c->source);
	cJSON *r = record_new("connection", real_ns(t, end_ns));

	if (!r) {
		t->st.write_errors++;
		return;
	}
	json_add_u64(r, "pid", c->pid);
	cJSON_AddStringToObject(r, "comm", c->comm);
	json_add_u64(r, "cgroup_id", c->cgroup_id);
	if (t->hooks.proc_fields)
		t->hooks.proc_fields(t->hooks.ctx, c->pid, c->cgroup_id, r);
	cJSON_AddStringToObject(r, "role", role_name(role));
	/* the server end is the local one when we accepted the connection */
	add_endpoint(r, "client", &c->sock, role != IT_ROLE_SERVER);
	add_endpoint(r, "server", &c->sock, role == IT_ROLE_SERVER);
	if (lib)
		cJSON_AddStringToObject(r, "tls.library", lib);
	else
		cJSON_AddNullToObject(r, "tls.library");
	json_add_u64(r, "bytes_sent", c->bytes_sent);
	json_add_u64(r, "bytes_received", c->bytes_received);
	json_add_u64(r, "calls", c->calls);
	json_add_time(r, "start_time", real_ns(t, c->start_ns));
	json_add_time(r, "end_time", real_ns(t, c->last_ns));
	cJSON_AddStringToObject(r, "close_reason", reason);
	if (c->proto && proto_conn_version(c->proto))
		cJSON_AddStringToObject(r, "network.protocol.version", proto_conn_version(c->proto));
	else
		cJSON_AddNullToObject(r, "network.protocol.version");
	cJSON_AddBoolToObject(r, "http.missed_start", c->proto && proto_conn_missed_start(c->proto));
	emit(t, r);
}

static void sock_index_del(struct tracker *t, struct conn *c)
{
	struct conn *head, **pp;

	if (!c->sock.sk)
		return;
	head = htab_get(t->by_sock, c->sock.sk);
	for (pp = &head; *pp; pp = &(*pp)->sk_next) {
		if (*pp == c) {
			*pp = c->sk_next;
			break;
		}
	}
	if (head)
		htab_put(t->by_sock, c->sock.sk, head);
	else
		htab_del(t->by_sock, c->sock.sk);
	c->sk_next = NULL;
}

static void sock_index_add(struct tracker *t, struct conn *c)
{
	c->sk_next = htab_get(t->by_sock, c->sock.sk);
	if (htab_put(t->by_sock, c->sock.sk, c))
		c->sk_next = NULL;
}

/* Report a connection and forget it. */
static void conn_close(struct tracker *t, struct conn *c, uint64_t end_ns, const char *reason)
{
	/* requests still open end with the connection, before its record */
	if (c->proto)
		proto_conn_close(c->proto, end_ns);
	conn_record(t, c, end_ns, reason);
	proto_conn_free(c->proto);
	c->proto = NULL;
	if (c->source != IT_SRC_SOCKET && t->hooks.conn_forget)
		t->hooks.conn_forget(t->hooks.ctx, c->pid, c->conn_id, c->source);
	sock_index_del(t, c);
	list_del(&c->lru);
	htab_del(t->conns, conn_key(c->pid, c->conn_id));
	free(c);
}

static struct conn *conn_get(struct tracker *t, const struct it_data_event *ev)
{
	uint64_t key = conn_key(ev->pid, ev->conn_id);
	struct conn *c = htab_get(t->conns, key);

	if (c && ev->sock.sk && c->sock.sk && c->sock.sk != ev->sock.sk) {
		/* a TLS object freed and reused for a new socket */
		conn_close(t, c, c->last_ns, "closed");
		c = NULL;
	}
	if (!c) {
		if (htab_count(t->conns) >= t->opts.max_conns && !list_empty(&t->conn_lru)) {
			conn_close(t, list_entry(t->conn_lru.next, struct conn, lru), ev->ts_ns,
				   "evicted");
			t->st.conns_evicted++;
		}
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->pid = ev->pid;
		c->t = t;
		c->conn_id = ev->conn_id;
		c->source = ev->source;
		c->start_ns = ev->start_ns;
		list_init(&c->lru);
		if (htab_put(t->conns, key, c)) {
			free(c);
			return NULL;
		}
		list_add_tail(&t->conn_lru, &c->lru);
	} else {
		list_move_tail(&t->conn_lru, &c->lru);
	}
	if (ev->sock.sk && !c->sock.sk) {
		c->sock = ev->sock;
		sock_index_add(t, c);
	} else if (ev->sock.sk && c->sock.role == IT_ROLE_UNKNOWN) {
		c->sock.role = ev->sock.role;
	}
	return c;
}

/* A finished HTTP exchange on connection c: a `request` record for
 * inference APIs (all exchanges with --all-requests). */
static void on_exchange(void *ctx, struct exchange *x)
{
	struct conn *c = ctx;
	struct tracker *t = c->t;
	const struct llm_call *l = &x->llm;
	uint8_t role = conn_role(t, c);
	uint64_t end = x->resp_end_ns ? x->resp_end_ns : x->last_ns ? x->last_ns : c->last_ns;
	struct proc *p;
	char addr[64];
	cJSON *r;

	if (!x->is_llm && !t->opts.all_requests)
		return;
	t->st.requests++;
	p = htab_get(t->procs, c->pid);
	if (p && x->is_llm) {
		if (p->interval_seq != t->interval_seq) {
			p->interval_seq = t->interval_seq;
			proc_reset(p);
		}
		p->requests++;
		if (l->usage_source == USAGE_PROVIDER) {
			p->input_tokens += l->usage.input_tokens > 0 ? (uint64_t)l->usage.input_tokens : 0;
			p->output_tokens += l->usage.output_tokens > 0 ? (uint64_t)l->usage.output_tokens : 0;
		} else if (l->usage_source == USAGE_ESTIMATED) {
			p->est_input_tokens += l->usage.input_tokens > 0 ? (uint64_t)l->usage.input_tokens : 0;
			p->est_output_tokens +=
				l->usage.output_tokens > 0 ? (uint64_t)l->usage.output_tokens : 0;
		}
	}
	r = record_new("request", real_ns(t, end));
	if (!r) {
		t->st.write_errors++;
		return;
	}
	json_add_u64(r, "pid", c->pid);
	cJSON_AddStringToObject(r, "comm", c->comm);
	json_add_u64(r, "cgroup_id", c->cgroup_id);
	cJSON_AddStringToObject(r, "role", role_name(role));
	add_endpoint(r, "client", &c->sock, role != IT_ROLE_SERVER);
	add_endpoint(r, "server", &c->sock, role == IT_ROLE_SERVER);
	if (c->sock.sk) {
		/* the address on the socket; server.address becomes the host name */
		addr_format(c->sock.family, c->sock.raddr, addr, sizeof(addr));
		cJSON_AddStringToObject(r, "network.peer.address", addr);
	} else {
		cJSON_AddNullToObject(r, "network.peer.address");
	}
	if (x->host[0])
		cJSON_ReplaceItemInObject(r, "server.address", cJSON_CreateString(x->host));
	if (source_name(c->source))
		cJSON_AddStringToObject(r, "tls.library", source_name(c->source));
	else
		cJSON_AddNullToObject(r, "tls.library");
	exchange_to_json(x, r, t->opts.mono_to_real_ns);
	if (t->hooks.proc_fields)
		t->hooks.proc_fields(t->hooks.ctx, c->pid, c->cgroup_id, r);
	if (t->hooks.request_extra) {
		struct tracker_request req = {
			.pid = c->pid,
			.cgroup_id = c->cgroup_id,
			.id = (uint64_t)(uintptr_t)x,
			.served = role == IT_ROLE_SERVER,
			.is_llm = x->is_llm,
			.llm = l,
			.start_ns = x->req_start_ns,
			.end_ns = end,
		};

		if (t->hooks.request_extra(t->hooks.ctx, &req, r))
			return;
	}
	emit(t, r);
}

/* A request's headers are complete: an inference request this process
 * serves is in flight from now. */
static void on_request_start(void *ctx, const struct exchange *x)
{
	struct conn *c = ctx;
	struct tracker *t = c->t;

	if (x->is_llm && t->hooks.request_started && conn_role(t, c) == IT_ROLE_SERVER)
		t->hooks.request_started(t->hooks.ctx, c->pid, (uint64_t)(uintptr_t)x,
					 x->req_start_ns);
}

void tracker_data(struct tracker *t, const struct it_data_event *ev)
{
	struct proc *p;
	struct conn *c;

	t->st.data_events++;
	if (!ev->first) {
		/* payload continuation: accounted with the first record */
		c = htab_get(t->conns, conn_key(ev->pid, ev->conn_id));
		if (c && c->proto)
			proto_conn_data(c->proto, ev->dir, ev->ts_ns, ev->data, ev->len, ev->chunk_off,
					false, 0, t->opts.capture_bytes);
		return;
	}

	p = proc_get(t, ev->pid, ev->comm, ev->cgroup_id, ev->ts_ns);
	c = conn_get(t, ev);
	if (!p || !c)
		return;
	set_comm(c->comm, ev->comm);
	c->cgroup_id = ev->cgroup_id;
	c->last_ns = ev->ts_ns;
	c->calls++;
	p->calls++;
	t->st.calls++;
	if (ev->dir == IT_DIR_SEND) {
		c->bytes_sent += ev->total;
		p->bytes_sent += ev->total;
	} else {
		c->bytes_received += ev->total;
		p->bytes_received += ev->total;
	}
	if (ev->total > t->opts.capture_bytes)
		t->st.truncated++;
	if (c->interval_seq != t->interval_seq) {
		c->interval_seq = t->interval_seq;
		p->conns_active++;
	}
	if (!c->proto && t->opts.parse_http) {
		c->proto = proto_conn_new(conn_role(t, c), on_exchange, c);
		proto_conn_on_start(c->proto, on_request_start);
	}
	if (c->proto)
		proto_conn_data(c->proto, ev->dir, ev->ts_ns, ev->data, ev->len, ev->chunk_off, true,
				ev->total, t->opts.capture_bytes);
}

void tracker_sock_close(struct tracker *t, uint64_t sk, uint64_t ts_ns)
{
	struct conn *c;

	while ((c = htab_get(t->by_sock, sk)))
		conn_close(t, c, ts_ns, "closed");
}

void tracker_note_proc(struct tracker *t, uint32_t pid, const char *comm, uint64_t cgroup_id,
		       uint64_t ts_ns)
{
	struct proc *p = htab_get(t->procs, pid);
	char c[IT_COMM_LEN + 1] = ""; /* proc_get copies IT_COMM_LEN bytes */

	if (comm)
		snprintf(c, sizeof(c), "%s", comm);
	if (!cgroup_id && p)
		cgroup_id = p->cgroup_id; /* keep what the probes told */
	proc_get(t, pid, comm ? c : NULL, cgroup_id, ts_ns);
}

void tracker_proc_exec(struct tracker *t, const struct it_proc_event *ev)
{
	struct proc *p = htab_get(t->procs, ev->pid);

	if (p)
		set_comm(p->comm, ev->comm);
}

/* Connections of one process, collected first: closing edits the table. */
static size_t conns_of(struct tracker *t, uint32_t pid, struct conn ***out)
{
	size_t it = 0, n = 0, cap = 0;
	struct conn **v = NULL, *c;
	void *val;

	while (htab_next(t->conns, &it, NULL, &val)) {
		c = val;
		if (pid && c->pid != pid)
			continue;
		if (n == cap) {
			struct conn **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
		}
		v[n++] = c;
	}
	*out = v;
	return n;
}

void tracker_proc_exit(struct tracker *t, const struct it_proc_event *ev)
{
	struct proc *p = htab_get(t->procs, ev->pid);
	struct conn **v;
	size_t n;

	if (!p)
		return;
	n = conns_of(t, ev->pid, &v);
	for (size_t i = 0; i < n; i++)
		conn_close(t, v[i], ev->ts_ns, "exit");
	free(v);
	usage_record(t, p, ev->ts_ns, true);
	proc_drop(t, p);
}

void tracker_interval(struct tracker *t, uint64_t start_ns, uint64_t end_ns, bool final)
{
	struct list_node *n, *next;

	t->interval_start_ns = start_ns;
	if (final) {
		struct conn **v;
		size_t cnt = conns_of(t, 0, &v);

		for (size_t i = 0; i < cnt; i++)
			conn_close(t, v[i], end_ns, "shutdown");
		free(v);
	} else {
		/* oldest activity first: stop at the first connection still live */
		for (n = t->conn_lru.next; n != &t->conn_lru; n = next) {
			struct conn *c = list_entry(n, struct conn, lru);

			next = n->next;
			if (c->last_ns + t->opts.conn_idle_ns > end_ns)
				break;
			conn_close(t, c, c->last_ns, "idle");
		}
	}
	for (n = t->proc_lru.next; n != &t->proc_lru; n = next) {
		struct proc *p = list_entry(n, struct proc, lru);

		next = n->next;
		usage_record(t, p, end_ns, final);
	}
	t->interval_seq++;
	t->interval_start_ns = end_ns;
}

uint64_t tracker_proc_cgroup(const struct tracker *t, uint32_t pid)
{
	const struct proc *p = htab_get(t->procs, pid);

	return p ? p->cgroup_id : 0;
}

void tracker_get_stats(const struct tracker *t, struct tracker_stats *st)
{
	*st = t->st;
	st->conns_open = htab_count(t->conns);
	st->procs = htab_count(t->procs);
}
