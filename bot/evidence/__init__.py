"""Evidence: the files the field sends to the timeline, downloaded and kept (service: what the
report reads; keeper: the download queue and its worker)."""
