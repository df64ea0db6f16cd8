/* parse.c — a sample source file for the document index tests. */
#include <string.h>

/* Reads the header line of a record: the name before the colon. */
int parse_header(const char *line, char *name, size_t cap)
{
    const char *colon = strchr(line, ':');
    if (!colon) return -1;

    size_t n = (size_t)(colon - line);
    if (n >= cap) return -1;
    memcpy(name, line, n);
    name[n] = '\0';
    return 0;
}

/* Counts the fields of a record separated by commas. */
int count_fields(const char *line)
{
    int n = 1;
    for (; *line; line++)
        if (*line == ',') n++;
    return n;
}
