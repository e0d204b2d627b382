/* cmd_tokenize.c — `kolors tokenize`: prompts on stdin (one per line, or one JSON string per line
 * with --jsonl) -> one JSON object per line on stdout with the exact arrays Kolors feeds ChatGLM3
 * (tokenizer(prompt, padding="max_length", max_length=N, truncation=True)). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void tokenize_usage(FILE *f) {
    fprintf(f,
            "usage: kolors tokenize [-m DIR] [--max-length N] [--jsonl] < prompts\n\n"
            "Reads prompts from stdin, one per line, and writes one JSON object per prompt:\n"
            "  {\"input_ids\":[...],\"attention_mask\":[...],\"position_ids\":[...],\"n_tokens\":K,"
            "\"truncated\":false}\n"
            "exactly as Kolors tokenizes ([gMASK] sop + SentencePiece ids, the first N-2 kept,\n"
            "left-padded with 0 to N). n_tokens counts the real tokens including the 2 prefix ids.\n"
            "A truncated prompt is also reported on stderr (line number, tokens before/after).\n\n"
            "  -m, --model DIR     Kolors model folder (either layout; only its tokenizer.model is read)\n"
            "                      (default: $KOLORS_MODEL, else the embedded demo model)\n"
            "  --max-length N      padded length, 2 ... 4096 (default 256, the Kolors value)\n"
            "  --jsonl             each input line is a JSON string literal, e.g. \"line one\\nline two\",\n"
            "                      so prompts may contain newlines, tabs and other control characters\n"
            "  -h, --help          this text\n\n"
            "Lines: a final line without a newline is a prompt; an empty line is the empty prompt \"\";\n"
            "in plain mode a line ending in CR LF is read as ending in LF (the CR is dropped; a CR\n"
            "anywhere else is kept as part of the prompt). A line that is not valid UTF-8 (or, with\n"
            "--jsonl, not a JSON string) stops the command with its line number and exit status 1;\n"
            "the lines before it have been written.\n");
}

/* cJSON decodes a \u0000 escape into a NUL byte inside valuestring and keeps going, but only
 * returns a C string. The decoded length is recovered by counting the \u0000 escapes of the raw
 * literal [lit, end) and stepping over that many NULs. */
static size_t json_string_len(const char *lit, const char *end, const char *decoded) {
    size_t nul_escapes = 0;
    for (const char *q = lit; q < end; q++) {
        if (*q != '\\') continue;
        if (end - q >= 6 && q[1] == 'u' && !memcmp(q + 2, "0000", 4)) nul_escapes++;
        q++; /* skip the escaped character (\\ must not start a new escape) */
    }
    size_t n = 0;
    for (;;) {
        n += strlen(decoded + n);
        if (!nul_escapes) return n;
        nul_escapes--;
        n++;
    }
}

/* Writes one result line. */
static void print_tokens(FILE *out, const kolors_tokens *t) {
    const int32_t *arrays[3] = {t->input_ids, t->attention_mask, t->position_ids};
    static const char *names[3] = {"input_ids", "attention_mask", "position_ids"};
    fputc('{', out);
    for (int a = 0; a < 3; a++) {
        fprintf(out, "\"%s\":[", names[a]);
        for (int i = 0; i < t->length; i++) fprintf(out, i ? ",%d" : "%d", (int)arrays[a][i]);
        fputs("],", out);
    }
    fprintf(out, "\"n_tokens\":%d,\"truncated\":%s}\n", t->n_tokens, t->truncated ? "true" : "false");
}

/* Longest stdin line accepted: the library refuses prompts over 1 MiB anyway, and a --jsonl line
 * may spell each byte as a 6-character escape. Reading stops there instead of growing a buffer
 * without bound (a stream without newlines, e.g. /dev/zero, must not exhaust memory). */
#define MAX_LINE_BYTES ((size_t)8 << 20)

/* getline() with a cap: returns the line length (NUL bytes included, newline kept), -1 at end
 * of input, -2 when the line is longer than `max` (the rest of it is not read). */
static long long read_line(FILE *f, char **buf, size_t *cap, size_t max) {
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF) {
        if (n + 2 > *cap) {
            if (n + 2 > max) return -2;
            size_t nc = *cap ? *cap * 2 : 4096;
            if (nc > max) nc = max;
            char *nb = realloc(*buf, nc);
            if (!nb) return -2;
            *buf = nb;
            *cap = nc;
        }
        (*buf)[n++] = (char)c;
        if (c == '\n') break;
    }
    if (n == 0 && c == EOF) return -1;
    (*buf)[n] = '\0';
    return (long long)n;
}

int cmd_tokenize(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *model = NULL;
    long long max_length = KOLORS_MAX_LENGTH;
    int jsonl = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            tokenize_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model = cli_value(cmd, argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--max-length")) {
            const char *v = cli_value(cmd, argc, argv, &i);
            if (!v || cli_parse_int(cmd, "--max-length", v, 2, 4096, &max_length)) return 2;
        } else if (!strcmp(a, "--jsonl")) {
            jsonl = 1;
        } else {
            cli_failf(cmd, "unknown option '%s' (see kolors tokenize --help)", a);
            return 2;
        }
    }

    kolors_params p;
    cli_params(&p, model, NULL);
    kolors_model *m = NULL;
    kolors_error e = {0};
    if (kolors_model_open(&p, &m, &e)) return cli_fail(cmd, &e);
    kolors_tokens *tok = malloc(sizeof *tok);
    if (!tok) {
        kolors_model_free(m);
        return cli_failf(cmd, "out of memory");
    }

    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    long long lineno = 0;
    long long n;
    while ((n = read_line(stdin, &line, &cap, MAX_LINE_BYTES)) != -1) {
        lineno++;
        if (n == -2) {
            rc = cli_failf(cmd, "stdin line %lld is longer than %zu MiB (or out of memory)", lineno, MAX_LINE_BYTES >> 20);
            break;
        }
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n') len--;
        const char *prompt = line;
        cJSON *js = NULL;
        if (jsonl) {
            const char *end = NULL;
            js = cJSON_ParseWithLengthOpts(line, len, &end, 0);
            /* Only whitespace may follow the string (this also absorbs the CR of CR LF). */
            int trailing_ok = js && end;
            for (const char *q = end; trailing_ok && q < line + len; q++)
                if (*q != ' ' && *q != '\t' && *q != '\r') trailing_ok = 0;
            if (!cJSON_IsString(js) || !trailing_ok) {
                cJSON_Delete(js);
                rc = cli_failf(cmd, "stdin line %lld: not a JSON string literal (--jsonl expects e.g. \"a cat\")",
                               lineno);
                break;
            }
            prompt = js->valuestring;
            len = json_string_len(line, end, prompt);
        } else if (len && line[len - 1] == '\r') {
            len--; /* CR LF line end */
        }
        if (kolors_tokenize(m, prompt, len, (int)max_length, tok, &e)) {
            cJSON_Delete(js);
            if (e.code == KOLORS_ERR_ARG) rc = cli_failf(cmd, "stdin line %lld: %s", lineno, e.message);
            else rc = cli_fail(cmd, &e);
            break;
        }
        cJSON_Delete(js);
        if (tok->truncated)
            fprintf(stderr, "kolors %s: line %lld: prompt truncated from %d to %d tokens (--max-length %lld)\n", cmd,
                    lineno, tok->n_untruncated, tok->n_tokens, max_length);
        print_tokens(stdout, tok);
    }
    if (!rc && ferror(stdin)) rc = cli_failf(cmd, "error reading stdin");
    if (fflush(stdout) != 0 && !rc) rc = cli_failf(cmd, "error writing stdout");
    free(line);
    free(tok);
    kolors_model_free(m);
    return rc;
}
