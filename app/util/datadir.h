/* datadir.h — where natter's shipped data lives: its default model, personas and themes
 * (models/, prompts/, themes/), wherever natter is started from.
 *
 * A built checkout is used in place: when the executable sits in the checkout's build folder
 * (build/natter, or one level deeper, build/asan/natter), the data folder is the checkout's
 * root, recognised by its prompts/default.yaml and models/ folder. Otherwise it is the
 * installed share folder, NATTER_DATADIR (PREFIX/share/natter, set by the Makefile). The
 * current folder's models/, prompts/ and themes/ are looked at before this one by their
 * users (cli.c, yamlcfg.c). */
#ifndef NATTER_DATADIR_H
#define NATTER_DATADIR_H

/* The folder, without a trailing slash (static storage, computed once; thread-safe). */
const char *datadir(void);

#endif
