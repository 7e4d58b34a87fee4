"""Live push: the hub, the websocket endpoints, and the snapshots clients start from."""
