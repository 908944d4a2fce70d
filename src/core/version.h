/* version.h - Brook's release version (brook --version, brookd --version,
 * ApiVersions' software name/version later). Bumped when a v* tag is made. */
#ifndef BK_VERSION_H
#define BK_VERSION_H

#define BK_VERSION "0.6.0-dev"

#endif
