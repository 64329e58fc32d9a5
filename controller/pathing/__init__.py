"""Path computation: CSPF, disjoint pairs, SID lists, placement and the global optimizer.

Pure functions: topology and demands in, paths out. Shared result types live in `types`.
"""
