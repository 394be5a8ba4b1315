#!/bin/bash
# The purpose's R packages, installed once into the site library (binaries from Posit Package
# Manager, see 20-r.sh), so a new host starts with them instead of compiling at first use.
set -euo pipefail
R_PACKAGES="${R_PACKAGES:-}"
[ -n "$R_PACKAGES" ] || { echo "no R packages asked for"; exit 0; }
# shellcheck disable=SC2086
Rscript -e 'pkgs <- commandArgs(TRUE); install.packages(pkgs, lib = .Library.site[1], Ncpus = parallel::detectCores());
missing <- pkgs[!vapply(pkgs, requireNamespace, logical(1), quietly = TRUE)];
if (length(missing)) stop("not installed: ", paste(missing, collapse = ", "))' $R_PACKAGES
