/* datadir.c — finding natter's shipped data next to the executable or in the installed share
 * folder (datadir.h). */
#include "datadir.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NATTER_DATADIR
#define NATTER_DATADIR "/usr/local/share/natter"
#endif

#define DATADIR_UP 2 /* build/natter and build/asan/natter */

static char datadir_path[PATH_MAX];
static pthread_once_t datadir_once = PTHREAD_ONCE_INIT;

/* A checkout's root holds both of these (an installed prefix holds neither). */
static int datadir_is_checkout(const char *root)
{
    char a[PATH_MAX + 32], b[PATH_MAX + 32];
    struct stat st;
    snprintf(a, sizeof a, "%s/prompts/default.yaml", root);
    snprintf(b, sizeof b, "%s/models", root);
    return stat(a, &st) == 0 && S_ISREG(st.st_mode) && stat(b, &st) == 0 && S_ISDIR(st.st_mode);
}

static void datadir_find(void)
{
    char exe[PATH_MAX];
    snprintf(datadir_path, sizeof datadir_path, "%s", NATTER_DATADIR);
    /* The executable's real path (symlinks resolved: a link in ~/bin still finds its checkout). */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    for (int up = 0; up <= DATADIR_UP; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash || slash == exe) return;
        *slash = '\0';
        if (up > 0 && datadir_is_checkout(exe)) {
            snprintf(datadir_path, sizeof datadir_path, "%s", exe);
            return;
        }
    }
}

const char *datadir(void)
{
    pthread_once(&datadir_once, datadir_find);
    return datadir_path;
}
