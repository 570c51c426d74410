/* kernel/cmdline.c: kernel command line parser (see cmdline.h). Words are
 * handled as (pointer, length) slices of the caller's line, so nothing is
 * copied except into the bounded fields of struct boot_options. */
#include "kernel/cmdline.h"
#include "kernel/format.h"
#include "kernel/string.h"

struct parser {
	struct boot_options *o;
	cmdline_warn_fn warn;
	void *ctx;
	int warnings;
};

/* A word is a slice, never NUL-terminated. */
struct slice {
	const char *s;
	size_t len;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool slice_is(struct slice v, const char *lit)
{
	return v.len == strlen(lit) && memcmp(v.s, lit, v.len) == 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void report(struct parser *p, const char *msg)
{
	p->warnings++;
	if (p->warn)
		p->warn(msg, p->ctx);
}

/* Words come from outside the kernel: quote at most a bounded, printable
 * version of one in a message. */
static void warn(struct parser *p, struct slice word, const char *why)
{
	char shown[41];
	size_t n = word.len < sizeof shown - 1 ? word.len : sizeof shown - 1;
	char msg[128];

	for (size_t i = 0; i < n; i++) {
		unsigned char c = word.s[i];
		shown[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	shown[n] = '\0';
	ksnprintf(msg, sizeof msg, "cmdline: '%s%s': %s", shown, word.len > n ? "..." : "", why);
	report(p, msg);
}

/* Decimal only, no sign; false if empty, not a number or above max. */
static bool parse_uint(struct slice v, unsigned max, int *out)
{
	unsigned n = 0;

	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		if (v.s[i] < '0' || v.s[i] > '9')
			return false;
		n = n * 10 + (v.s[i] - '0');
		if (n > max)
			return false;
	}
	*out = n;
	return true;
}

static bool parse_bool(struct slice v, bool *out)
{
	if (slice_is(v, "on") || slice_is(v, "yes") || slice_is(v, "true") || slice_is(v, "1"))
		*out = true;
	else if (slice_is(v, "off") || slice_is(v, "no") || slice_is(v, "false") || slice_is(v, "0"))
		*out = false;
	else
		return false;
	return true;
}

/* Each setter returns NULL on success or why the value was refused, and
 * leaves *o untouched when refusing. */

static const char *set_node(struct boot_options *o, struct slice v)
{
	if (slice_is(v, "auto")) {
		o->node = -1;
		return NULL;
	}
	return parse_uint(v, 254, &o->node) ? NULL : "expected auto or 0..254";
}

static const char *set_loglevel(struct boot_options *o, struct slice v)
{
	return parse_uint(v, 7, &o->loglevel) ? NULL : "expected 0..7";
}

static const char *set_ktest(struct boot_options *o, struct slice v)
{
	return parse_bool(v, &o->ktest) ? NULL : "expected on or off";
}

static const char *set_balance(struct boot_options *o, struct slice v)
{
	return parse_bool(v, &o->balance) ? NULL : "expected on or off";
}

static const char *set_key(struct boot_options *o, struct slice v)
{
	uint8_t key[CMDLINE_KEY_MAX];

	if (v.len % 2 || v.len > 2 * CMDLINE_KEY_MAX)
		return "expected an even number of hex digits, at most 64";
	for (size_t i = 0; i < v.len; i += 2) {
		int hi = hex_value(v.s[i]), lo = hex_value(v.s[i + 1]);
		if (hi < 0 || lo < 0)
			return "expected hex digits";
		key[i / 2] = hi << 4 | lo;
	}
	memset(o->key, 0, sizeof o->key);
	memcpy(o->key, key, v.len / 2);
	o->key_len = v.len / 2;
	return NULL;
}

static const char *set_console(struct boot_options *o, struct slice v)
{
	/* A cut-off console name would silently name another device. */
	if (v.len >= sizeof o->console)
		return "value too long (max 31 characters)";
	memcpy(o->console, v.s, v.len);
	o->console[v.len] = '\0';
	return NULL;
}

/* crash=pagefault|panic: a deliberate fault after boot, for the tests of the fault report. */
static const char *set_crash(struct boot_options *o, struct slice v)
{
	if (!slice_is(v, "pagefault") && !slice_is(v, "panic"))
		return "expected pagefault or panic";
	memcpy(o->crash, v.s, v.len);
	o->crash[v.len] = '\0';
	return NULL;
}

static const struct option {
	const char *name;
	const char *(*set)(struct boot_options *o, struct slice v);
	const char *flag_value;  /* what a bare word means; NULL = value required */
} options[] = {
	{ "node", set_node, NULL },
	{ "loglevel", set_loglevel, NULL },
	{ "ktest", set_ktest, "on" },
	{ "balance", set_balance, NULL },
	{ "key", set_key, NULL },
	{ "console", set_console, NULL },
	{ "crash", set_crash, NULL },
};

static void apply_word(struct parser *p, struct slice word)
{
	const char *eq = memchr(word.s, '=', word.len);
	struct slice key = { word.s, eq ? (size_t)(eq - word.s) : word.len };
	struct slice val = { eq ? eq + 1 : NULL, eq ? word.len - key.len - 1 : 0 };

	if (key.len == 0) {
		warn(p, word, "missing option name");
		return;
	}
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
		const struct option *opt = &options[i];
		if (!slice_is(key, opt->name))
			continue;
		if (!eq && !opt->flag_value) {
			warn(p, word, "missing value");
		} else if (eq && val.len == 0) {
			warn(p, word, "empty value");
		} else {
			if (!eq)
				val = (struct slice){ opt->flag_value, strlen(opt->flag_value) };
			const char *why = opt->set(p->o, val);
			if (why)
				warn(p, word, why);
		}
		return;
	}
	warn(p, word, "unknown option");
}

static void set_defaults(struct boot_options *o)
{
	*o = (struct boot_options){
		.node = -1,
		.loglevel = CMDLINE_DEFAULT_LOGLEVEL,
		.ktest = false,
		.balance = true,
	};
}

int cmdline_parse(const char *line, struct boot_options *o, cmdline_warn_fn warn_fn, void *ctx)
{
	struct parser p = { .o = o, .warn = warn_fn, .ctx = ctx };

	set_defaults(o);
	if (!line)
		return 0;

	size_t len = strnlen(line, CMDLINE_MAX);
	if (len == CMDLINE_MAX) {
		/* No NUL in sight: the last word may be cut, so drop it. */
		while (len > 0 && !is_space(line[len - 1]))
			len--;
		report(&p, "cmdline: longer than 4095 bytes, cut after the last whole word");
	}

	bool first = true;
	for (size_t i = 0; i < len;) {
		if (is_space(line[i])) {
			i++;
			continue;
		}
		struct slice word = { line + i, 0 };
		while (i < len && !is_space(line[i]))
			i++;
		word.len = line + i - word.s;

		bool file_name = first && memchr(word.s, '/', word.len) && !memchr(word.s, '=', word.len);
		first = false;
		if (!file_name)
			apply_word(&p, word);
	}
	return p.warnings;
}
