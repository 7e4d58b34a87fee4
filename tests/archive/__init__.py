"""Tests of the recorder and the media tools, with the real ffmpeg."""
