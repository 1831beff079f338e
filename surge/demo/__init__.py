"""`surge demo`: the steps of the main job and the page that shows their results."""
