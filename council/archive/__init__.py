"""Archive and replay of recorded meetings (issue #4): the recorder, the timeline, the replay."""
