/* SPDX-License-Identifier: MIT */
/* `fabriq map` and friends: a remote volume as a local block device (docs/map.md). */
#ifndef FQ_CLI_MAP_H
#define FQ_CLI_MAP_H

#define MAP_PATH_MAX 512

/* The serving process of a user-mode mapping (the hidden verb map-serve). */
int map_serve_main(int argc, char **argv);

int cmd_map(int argc, char **argv);
int cmd_unmap(int argc, char **argv);
int cmd_remap(int argc, char **argv);
int cmd_showmapped(int argc, char **argv);
int cmd_mapall(int argc, char **argv);
int cmd_unmapall(int argc, char **argv);

#endif
