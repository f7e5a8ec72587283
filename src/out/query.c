// SPDX-License-Identifier: MIT
/*
 * The local query socket (query.h). One thread owns the listening socket and
 * every client; it multiplexes them with poll(), so a client that connects
 * and says nothing, or asks and never reads, only holds a slot until its
 * deadline and never delays the others or the agent's event loop.
 *
 * Protocol: one request line per connection ("snapshot\n"), one JSON line
 * back, then the server closes. A request with no newline is taken whole when
 * the client shuts down its sending side (`printf snapshot | socat ...`).
 */
#include "out/query.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Clients served at once; more wait in the listen backlog (top connects
 * once per refresh, so a handful is plenty). */
#define QUERY_MAX_CLIENTS 16
#define QUERY_BACKLOG 16
/* Longest request line; the only request is 8 bytes. */
#define QUERY_MAX_REQUEST 256
/* A client has this long to send its line... */
#define QUERY_REQUEST_MS 2000
/* ...and this long, from its connect, to read the whole answer (a snapshot
 * of thousands of processes is a few MB). */
#define QUERY_TOTAL_MS 10000
/* Unknown requests are echoed back, cut to this many bytes. */
#define QUERY_ECHO_MAX 64

struct client {
	int fd;                 /* -1: free slot */
	uint64_t accepted_ms;
	char req[QUERY_MAX_REQUEST + 1];
	size_t req_len;
	char *out;              /* answer being written, NULL while reading */
	size_t out_len, out_off;
};

struct query {
	int lfd;
	int wake[2];            /* query_stop writes here to end poll() */
	pthread_t thread;
	struct live *live;
	char *path;
	dev_t dev;              /* the socket file we made, to unlink only it */
	ino_t ino;
	struct client clients[QUERY_MAX_CLIENTS];
	uint64_t accept_pause_until; /* ms: out of descriptors, accept later */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* mkdir -p for the socket's parent, so /run/infertrace needs no setup (it
 * is a tmpfs, empty at every boot). */
static int make_parent(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0; /* relative name in the cwd, or a file in / */
	*slash = '\0';
	for (char *p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(dir, 0755) == 0) {
			/* the umask may have taken x from group and others, who
			 * need it to reach a --socket-group socket */
			chmod(dir, 0755);
		} else if (errno != EEXIST) {
			snprintf(err, errlen, "cannot create directory %s for the query socket: %s", dir,
				 strerror(errno));
			return -1;
		}
		*p = c;
		if (!c)
			break;
	}
	return 0;
}

/*
 * What is at path now: nothing, a stale socket (removed here), or a live
 * agent (an error: two agents must not steal each other's readers). A file
 * that is not a socket is never removed: a wrong --socket must not delete it.
 */
static int clear_path(const char *path, const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "query socket %s: the path exists and is not a socket; "
			 "remove it or choose another --socket", path);
		return -1;
	}
	/* non-blocking: a listener with a full backlog must not hang the start */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* connect() on a UNIX socket answers at once: accepted (someone
	 * listens), ECONNREFUSED (nobody does: a socket left by a crash) or
	 * EAGAIN (someone listens with a full backlog: alive too). */
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (rc == 0 || errno == EAGAIN) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		char who[48] = "";

		if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
			snprintf(who, sizeof(who), " (pid %d)", (int)cred.pid);
		close(fd);
		snprintf(err, errlen, "another infertrace agent%s is already serving on %s: stop it "
			 "first, or give this one its own --socket PATH", who, path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		snprintf(err, errlen, "query socket %s exists and cannot be checked (%s): remove it if "
			 "no agent is running", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove the stale query socket %s: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static int lookup_group(const char *name, gid_t *gid, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[4096];
	int rc = getgrnam_r(name, &gr, buf, sizeof(buf), &res);

	if (rc || !res) {
		snprintf(err, errlen, "--socket-group %s: %s", name,
			 rc ? strerror(rc) : "no such group");
		return -1;
	}
	*gid = res->gr_gid;
	return 0;
}

static void client_close(struct client *c)
{
	char sink[4096];

	/* Closing a UNIX socket with unread bytes resets the peer, which may
	 * then lose the answer (an over-long request): read a bounded amount
	 * of what is left first. */
	for (int i = 0; i < 16 && recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Queue an answer (a JSON object) as one line; the caller keeps obj. */
static void client_answer(struct client *c, const cJSON *obj)
{
	char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
	static const char oom[] = "{\"error\":\"out of memory\"}\n";
	size_t n;

	if (!s) {
		c->out = strdup(oom);
		c->out_len = c->out ? strlen(oom) : 0;
		c->out_off = 0;
		return;
	}
	/* cJSON's buffer is exactly the string: grow it by the newline */
	n = strlen(s);
	c->out = realloc(s, n + 2);
	if (!c->out) {
		free(s);
		return;
	}
	c->out[n] = '\n';
	c->out[n + 1] = '\0';
	c->out_len = n + 1;
	c->out_off = 0;
}

static void client_error(struct client *c, const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	if (o)
		cJSON_AddStringToObject(o, "error", msg);
	client_answer(c, o);
	cJSON_Delete(o);
}

static void client_request(struct query *q, struct client *c)
{
	char *line = c->req, msg[QUERY_ECHO_MAX + 64];
	size_t n = c->req_len;

	while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	line[n] = '\0';
	if (strcmp(line, "snapshot") == 0) {
		cJSON *snap = live_snapshot(q->live);

		client_answer(c, snap);
		cJSON_Delete(snap);
		return;
	}
	/* The echo helps a human at socat; cJSON passes bytes >= 0x80 through
	 * unchecked, so anything but printable ASCII becomes '?' to keep the
	 * answer valid UTF-8 whatever was sent. */
	if (n > QUERY_ECHO_MAX)
		n = QUERY_ECHO_MAX;
	line[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			line[i] = '?';
	snprintf(msg, sizeof(msg), "unknown request: %.64s (the one request is \"snapshot\")", line);
	client_error(c, msg);
}

/* Read what the client sent; answer once a line is complete. Returns false
 * when the client is done with (closed, or in error). */
static bool client_read(struct query *q, struct client *c)
{
	for (;;) {
		ssize_t r = recv(c->fd, c->req + c->req_len, QUERY_MAX_REQUEST - c->req_len, 0);
		char *nl;

		if (r < 0)
			return errno == EAGAIN || errno == EINTR;
		if (r == 0) {
			if (c->req_len == 0)
				return false; /* connected and left: nothing to answer */
			client_request(q, c);
			return c->out != NULL;
		}
		nl = memchr(c->req + c->req_len, '\n', (size_t)r);
		c->req_len += (size_t)r;
		if (nl) {
			c->req_len = (size_t)(nl - c->req);
			client_request(q, c);
			return c->out != NULL;
		}
		if (c->req_len >= QUERY_MAX_REQUEST) {
			client_error(c, "request line too long (the one request is \"snapshot\")");
			return c->out != NULL;
		}
	}
}

/* Write what the socket takes. Returns false when done or failed. */
static bool client_write(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (w < 0)
			return errno == EAGAIN || errno == EINTR;
		c->out_off += (size_t)w;
	}
	return false;
}

static void accept_clients(struct query *q)
{
	for (;;) {
		struct client *c = NULL;
		int fd;

		for (size_t i = 0; i < QUERY_MAX_CLIENTS; i++)
			if (q->clients[i].fd < 0) {
				c = &q->clients[i];
				break;
			}
		if (!c)
			return; /* the rest wait in the backlog */
		fd = accept4(q->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* out of descriptors: the client stays in the backlog and the
			 * socket readable; leave it alone a while rather than spin */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				q->accept_pause_until = now_ms() + 200;
			return; /* EAGAIN, or a client that left before accept */
		}
		c->fd = fd;
		c->accepted_ms = now_ms();
	}
}

static void *serve(void *arg)
{
	struct query *q = arg;
	struct pollfd pfd[QUERY_MAX_CLIENTS + 2];
	struct client *who[QUERY_MAX_CLIENTS + 2];

	for (;;) {
		uint64_t now = now_ms();
		int timeout = -1, n = 0, busy = 0;

		pfd[n++] = (struct pollfd){ .fd = q->wake[0], .events = POLLIN };
		for (size_t i = 0; i < QUERY_MAX_CLIENTS; i++) {
			struct client *c = &q->clients[i];
			uint64_t deadline;

			if (c->fd < 0)
				continue;
			busy++;
			deadline = c->accepted_ms + (c->out ? QUERY_TOTAL_MS : QUERY_REQUEST_MS);
			if (now >= deadline) {
				/* a silent client is told why before it is dropped; one
				 * that does not read its answer is just dropped */
				if (!c->out) {
					client_error(c, "no request line within 2 s");
					if (c->out)
						client_write(c);
				}
				client_close(c);
				busy--;
				continue;
			}
			if (timeout < 0 || deadline - now < (uint64_t)timeout)
				timeout = (int)(deadline - now);
			who[n] = c;
			pfd[n++] = (struct pollfd){ .fd = c->fd, .events = c->out ? POLLOUT : POLLIN };
		}
		if (busy < QUERY_MAX_CLIENTS && now >= q->accept_pause_until) {
			who[n] = NULL;
			pfd[n++] = (struct pollfd){ .fd = q->lfd, .events = POLLIN };
		} else if (now < q->accept_pause_until &&
			   (timeout < 0 || q->accept_pause_until - now < (uint64_t)timeout)) {
			timeout = (int)(q->accept_pause_until - now);
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break; /* cannot happen with valid fds; stop serving, not the agent */
		}
		if (pfd[0].revents)
			break;
		for (int i = 1; i < n; i++) {
			struct client *c = who[i];

			if (!pfd[i].revents)
				continue;
			if (!c) {
				accept_clients(q);
				continue;
			}
			if (!c->out && !client_read(q, c)) {
				client_close(c);
				continue;
			}
			/* an answer may be ready right after the read: try at once */
			if (c->out && !client_write(c))
				client_close(c);
		}
	}
	for (size_t i = 0; i < QUERY_MAX_CLIENTS; i++)
		if (q->clients[i].fd >= 0)
			client_close(&q->clients[i]);
	return NULL;
}

struct query *query_start(const char *path, const char *group, struct live *l, char *err,
			  size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct query *q = NULL;
	sigset_t all, old;
	gid_t gid = (gid_t)-1;
	struct stat st;
	int rc;

	if (!path || !*path)
		path = QUERY_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "query socket path too long (at most %zu bytes): %s",
			 sizeof(sa.sun_path) - 1, path);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* the group first: a typo must not leave a socket behind */
	if (group && lookup_group(group, &gid, err, errlen) < 0)
		return NULL;
	if (make_parent(path, err, errlen) < 0 || clear_path(path, &sa, err, errlen) < 0)
		return NULL;

	q = calloc(1, sizeof(*q));
	if (!q || !(q->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	q->live = l;
	q->lfd = q->wake[0] = q->wake[1] = -1;
	for (size_t i = 0; i < QUERY_MAX_CLIENTS; i++)
		q->clients[i].fd = -1;
	if (pipe2(q->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	q->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->lfd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(q->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "cannot bind the query socket %s: %s", path, strerror(errno));
		goto fail;
	}
	/* Permissions before listen(): until then every connect() is refused,
	 * so no one slips in while the file still has the umask's mode. */
	if (group ? chown(path, (uid_t)-1, gid) < 0 || chmod(path, 0660) < 0 :
		    chmod(path, 0600) < 0) {
		snprintf(err, errlen, "cannot set the permissions of %s: %s", path, strerror(errno));
		goto fail_unlink;
	}
	if (lstat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail_unlink;
	}
	q->dev = st.st_dev;
	q->ino = st.st_ino;
	if (listen(q->lfd, QUERY_BACKLOG) < 0) {
		snprintf(err, errlen, "listen on %s: %s", path, strerror(errno));
		goto fail_unlink;
	}
	/* The agent's stop and reload signals must reach its main thread (they
	 * interrupt its ring-buffer wait): this thread takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&q->thread, NULL, serve, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot start the query thread: %s", strerror(rc));
		goto fail_unlink;
	}
	return q;

fail_unlink:
	unlink(path);
fail:
	if (q) {
		if (q->lfd >= 0)
			close(q->lfd);
		if (q->wake[0] >= 0) {
			close(q->wake[0]);
			close(q->wake[1]);
		}
		free(q->path);
		free(q);
	}
	return NULL;
}

void query_stop(struct query *q)
{
	struct stat st;
	char c = 'x';

	if (!q)
		return;
	while (write(q->wake[1], &c, 1) < 0 && errno == EINTR)
		;
	pthread_join(q->thread, NULL);
	close(q->lfd);
	close(q->wake[0]);
	close(q->wake[1]);
	/* only our own file: never one another agent made after ours was removed */
	if (lstat(q->path, &st) == 0 && st.st_dev == q->dev && st.st_ino == q->ino)
		unlink(q->path);
	free(q->path);
	free(q);
}
