/* Filling a response, and the small conversions every handler needs. */
#include "util/common.h"

#include <nettle/base64.h>
#include <stdarg.h>
#include <time.h>

#include "api/api_int.h"
#include "util/utf8.h"

int64_t api_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int api_json(struct api_resp *rs, unsigned status, json_t *j)
{
	json_decref(rs->json);
	rs->status = status;
	rs->json = j ? j : json_object();
	return rs->json ? 0 : -ENOMEM;
}

/* agent-sandbox's (gRPC's) name of an HTTP status, for its clients. */
static const char *code_of(unsigned status)
{
	switch (status) {
	case 400: return "INVALID_ARGUMENT";
	case 401: return "UNAUTHENTICATED";
	case 403: return "PERMISSION_DENIED";
	case 404: return "NOT_FOUND";
	case 409: return "FAILED_PRECONDITION";
	case 413:
	case 431:
	case 503:
	case 507: return "RESOURCE_EXHAUSTED";
	case 501: return "UNIMPLEMENTED";
	case 504: return "DEADLINE_EXCEEDED";
	default: return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
	}
}

int api_errorf(struct api_resp *rs, unsigned status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_json(
	    rs, status,
	    json_pack("{s:o, s:s}", "error", api_text(msg, strlen(msg)), "code", code_of(status)));
	return -EINVAL;
}

unsigned api_status_of(int r)
{
	switch (-r) {
	case ENOENT: return 404;
	case ENOTCONN:
	case EEXIST:
	case ENOTEMPTY:
	case EBUSY:
	case EISDIR:
	case ENOTDIR: return 409;
	case EINVAL:
	case ENAMETOOLONG:
	case EBADMSG: return 400;
	case EPERM:
	case EACCES:
	case ELOOP:
	case EXDEV: return 403;
	case EFBIG:
	case E2BIG: return 413;
	case ETIMEDOUT: return 504;
	case ENOSPC:
	case EDQUOT: return 507;
	case ENOSYS:
	case ELIBACC: return 501;
	case EAGAIN: return 503;
	default: return 500;
	}
}

int api_fail(struct api_resp *rs, int r, const struct error *err)
{
	char buf[ERROR_FORMAT_MAX];
	struct error e = { 0 };
	if (err && error_isset(err))
		e = *err;
	else
		e.code = r;
	error_format(&e, buf, sizeof(buf));
	api_errorf(rs, api_status_of(r), "%s", buf);
	return r;
}

void api_header_add(struct api_resp *rs, const char *name, const char *value)
{
	if (rs->nhdr == API_HDRS_OUT)
		return;
	snprintf(rs->hdr_buf[rs->nhdr], sizeof(rs->hdr_buf[0]), "%s", value);
	rs->hdr[rs->nhdr][0] = name;
	rs->hdr[rs->nhdr][1] = rs->hdr_buf[rs->nhdr];
	rs->nhdr++;
}

void api_resp_free(struct api_resp *rs)
{
	json_decref(rs->json);
	free(rs->data);
	if (rs->fd >= 0)
		close(rs->fd);
	if (rs->stream_free)
		rs->stream_free(rs->stream_ctx);
	*rs = (struct api_resp){ .fd = -1 };
}

json_t *api_text(const char *s, size_t n)
{
	/* Valid UTF-8 (the common case) as it is; else each bad byte as
	 * U+FFFD. A NUL byte is valid JSON (\u0000). */
	size_t i = 0;
	uint32_t cp;
	while (i < n) {
		size_t k = (unsigned char)s[i] < 0x80
			       ? 1
			       : utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (!k)
			break;
		i += k;
	}
	if (i == n)
		return json_stringn(s, n);
	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	_cleanup_free_ char *out = malloc(n * 3 + 1);
	size_t o = 0;
	if (!out)
		return NULL;
	for (i = 0; i < n;) {
		size_t k = (unsigned char)s[i] < 0x80
			       ? 1
			       : utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (k) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			/* U+FFFD */
			out[o++] = (char)0xef;
			out[o++] = (char)0xbf;
			out[o++] = (char)0xbd;
			i++;
		}
	}
	return json_stringn(out, o);
}

json_t *api_base64(const char *s, size_t n)
{
	if (n > (SIZE_MAX / 4) - 8)
		return NULL;
	_cleanup_free_ char *out = malloc(BASE64_ENCODE_RAW_LENGTH(n) + 1);
	if (!out)
		return NULL;
	base64_encode_raw(out, n, (const uint8_t *)s);
	return json_stringn(out, BASE64_ENCODE_RAW_LENGTH(n));
}

int api_unbase64(const char *s, size_t n, char **ret, size_t *ret_len)
{
	struct base64_decode_ctx ctx;
	size_t dl = 0;
	_cleanup_free_ char *out = malloc(BASE64_DECODE_LENGTH(n) + 1);
	if (!out)
		return -ENOMEM;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &dl, (uint8_t *)out, n, s) || !base64_decode_final(&ctx))
		return -EINVAL;
	out[dl] = '\0';
	*ret = TAKE_PTR(out);
	*ret_len = dl;
	return 0;
}

int api_body_json(struct api_req *rq, struct api_resp *rs, json_t **ret)
{
	json_error_t je;
	if (rq->body_len == 0) {
		*ret = json_object();
		return *ret ? 0 : -ENOMEM;
	}
	json_t *j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return api_errorf(rs, 400, "malformed JSON body: %s (line %d)", je.text, je.line);
	if (!json_is_object(j)) {
		json_decref(j);
		return api_errorf(rs, 400, "the JSON body must be an object");
	}
	*ret = j;
	return 0;
}

int api_query_u64(struct api_req *rq, struct api_resp *rs, const char *name, uint64_t def,
		  uint64_t *ret)
{
	const char *v = rq->query(rq, name);
	char *end;
	if (!v || !*v) {
		*ret = def;
		return 0;
	}
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || *end || v[0] == '-' || v[0] == '+' || v[0] == ' ')
		return api_errorf(rs, 400, "query '%s': not a number", name);
	*ret = n;
	return 0;
}

bool api_query_bool(struct api_req *rq, const char *name)
{
	const char *v = rq->query(rq, name);
	return v && (STREQ(v, "") || STREQ(v, "1") || STREQ(v, "true") || STREQ(v, "yes"));
}
