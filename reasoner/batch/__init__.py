"""Many cases at once: run_batch over local processes or Dask, and the case generator."""
