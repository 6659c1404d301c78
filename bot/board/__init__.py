"""The situation board: a live common operating picture of the incidents, in the browser."""
