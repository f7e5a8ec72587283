// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the whole protocol layer (src/proto/proto.c, http1.c,
 * http2.c, exchange.c, decode.c, sse.c, awsev.c, llm.c) behind its entry,
 * proto_conn_new / proto_conn_data / proto_conn_close / proto_conn_free.
 *
 * Input framing (see tests/fuzz/README.md):
 *
 *   byte 0          role of the traced process: % 3 -> enum it_role
 *   then records separated by FUZZ_SEP ("\xff\xfe\xfd\xfc"); each record is
 *   an 8-byte header (missing bytes read as 0) and the payload (the rest):
 *     h[0] flags  bit 0     dir (0 IT_DIR_SEND, 1 IT_DIR_RECV)
 *                 bit 1     not the first record of its call (first = 0)
 *                 bits 2-3  chunk offset: 0 where the previous record of this
 *                           direction's call ended (0 on a first record),
 *                           1 that + h[1] + 1 (a small gap),
 *                           2 that + (h[1] + 1) * 1024 (a bigger gap),
 *                           3 that - min(that, h[1] + 1) (overlap: duplicate)
 *                 bits 4-5  total (bytes the call moved), with
 *                           extra = h[2..5] (u32 little-endian):
 *                           0 offset + len, 1 offset + len + extra,
 *                           2 extra (may be less than captured: bogus),
 *                           3 offset + len + extra * 64 KiB
 *                 bits 6-7  capture limit: 0 16384 (the default),
 *                           1 65536, 2 h[6..7] (u16 LE), 3 len
 *     h[1]        gap / overlap size
 *     h[2..5]     total extra
 *     h[6..7]     capture limit
 *   Each record advances the clock 1 ms. After the last record:
 *   proto_conn_close, then proto_conn_free.
 *
 * Every exchange reported is checked (strings terminated) and turned into
 * its JSON record, as the agent does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "net_event.h"
#include "proto/exchange.h"
#include "proto/proto.h"

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

static void on_exchange(void *ctx, struct exchange *x)
{
	unsigned *count = ctx;
	cJSON *r;
	char *s;

	(*count)++;
	FUZZ_CHECK(TERMINATED(x->method), "method");
	FUZZ_CHECK(TERMINATED(x->path), "path");
	FUZZ_CHECK(TERMINATED(x->host), "host");
	FUZZ_CHECK(TERMINATED(x->llm.request_model), "request_model");
	FUZZ_CHECK(TERMINATED(x->llm.response_model), "response_model");
	FUZZ_CHECK(TERMINATED(x->llm.error_type), "error_type");
	FUZZ_CHECK(x->resp.len <= EXCHANGE_BODY_CAP && x->req.len <= EXCHANGE_BODY_CAP,
		   "body len %zu/%zu", x->req.len, x->resp.len);
	FUZZ_CHECK(!x->path[0] || !strchr(x->path, '?'), "query kept in path '%s'", x->path);
	(void)exchange_outcome(x);
	r = cJSON_CreateObject();
	if (!r)
		return;
	exchange_to_json(x, r, 1000000000);
	s = cJSON_PrintUnformatted(r);
	if (s && getenv("FUZZ_PROTO_PRINT")) /* to look at what the seeds reach */
		printf("%s\n", s);
	free(s);
	cJSON_Delete(r);
}

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader rd;
	struct proto_conn *pc;
	const uint8_t *rec;
	size_t rec_len;
	uint64_t pos[2] = { 0, 0 };
	uint64_t ts = 1000000000ull;
	unsigned exchanges = 0;

	if (size < 1)
		return 0;
	pc = proto_conn_new(data[0] % 3, on_exchange, &exchanges);
	if (!pc)
		return 0;
	fuzz_reader_init(&rd, data + 1, size - 1);
	while (fuzz_next(&rd, &rec, &rec_len)) {
		uint8_t h[8] = { 0 };
		size_t hl = rec_len < sizeof(h) ? rec_len : sizeof(h);
		const uint8_t *payload = rec + hl;
		uint32_t len = (uint32_t)(rec_len - hl);
		uint8_t dir, flags;
		bool first;
		uint64_t off, total, extra;
		uint32_t cap;
		uint8_t *copy;

		memcpy(h, rec, hl);
		flags = h[0];
		dir = flags & 1;
		first = !(flags & 2);
		if (first)
			pos[dir] = 0;
		switch ((flags >> 2) & 3) {
		case 0:
			off = pos[dir];
			break;
		case 1:
			off = pos[dir] + h[1] + 1;
			break;
		case 2:
			off = pos[dir] + ((uint64_t)h[1] + 1) * 1024;
			break;
		default:
			off = pos[dir] - (pos[dir] < (uint64_t)h[1] + 1 ? pos[dir] : (uint64_t)h[1] + 1);
			break;
		}
		if (off > UINT32_MAX - (uint64_t)len)
			off = 0;
		extra = le32(h + 2);
		switch ((flags >> 4) & 3) {
		case 0:
			total = off + len;
			break;
		case 1:
			total = off + len + extra;
			break;
		case 2:
			total = extra;
			break;
		default:
			total = off + len + (extra & 0xffff) * 65536;
			break;
		}
		switch ((flags >> 6) & 3) {
		case 0:
			cap = IT_CAPTURE_DEFAULT;
			break;
		case 1:
			cap = IT_CAPTURE_MAX;
			break;
		case 2:
			cap = (uint32_t)h[6] | (uint32_t)h[7] << 8;
			break;
		default:
			cap = len;
			break;
		}
		ts += 1000000;
		/* an exact-size copy: a read past the record is an ASan report */
		copy = fuzz_memdup(payload, len);
		proto_conn_data(pc, dir, ts, copy, len, (uint32_t)off, first, total, cap);
		free(copy);
		pos[dir] = off + len;
	}
	proto_conn_close(pc, ts + 1000000);
	proto_conn_free(pc);
	return 0;
}
