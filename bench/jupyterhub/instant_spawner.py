"""A JupyterHub spawner that starts at once, for the benchmark: every user's "server" is the
one instance web server the benchmark runs, so a start costs only the hub's own work (its
database, its proxy route, its check that the server answers)."""
from jupyterhub.spawner import Spawner
from traitlets import Integer


class InstantSpawner(Spawner):
    target_port = Integer(0, config=True, help="Port of the web server every user's server points at.")

    _running = False

    async def start(self):
        self._running = True
        return ("127.0.0.1", self.target_port)

    async def stop(self, now=False):
        self._running = False

    async def poll(self):
        return None if self._running else 0

    def get_state(self):
        state = super().get_state()
        if self._running:
            state["running"] = True
        return state

    def load_state(self, state):
        super().load_state(state)
        self._running = bool(state.get("running"))

    def clear_state(self):
        super().clear_state()
        self._running = False
