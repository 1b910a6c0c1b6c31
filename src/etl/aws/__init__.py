"""AWS adapters of the pipeline's ports (the local runtime has the other side)."""
