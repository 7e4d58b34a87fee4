"""``council demo``: a throwaway live meeting with questions arriving, to look at every page.

Everything lives in a temporary folder that is removed on exit. Web-form samples go
through the same domain functions as real ones (``check_question`` then ``submit``
through ``Council.act``). Samples from X, Mastodon and Bluesky are posted on stand-in
APIs on 127.0.0.1 (council/sandbox/), and Council's real collectors bring them in, so
the queue, the screen, the public page and the tracking page behave exactly as in a
real meeting, and the moderator page shows each source's health. Nothing reaches the
network, whatever credentials the environment holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.orm import Session

from council.app import create_app
from council.errors import CouncilError
from council.i18n import _
from council.intake import check_question, submit
from council.meetings import create_meeting, start_meeting
from council.moderation import actions
from council.moderation.accounts import add_user
from council.residents import add_resident
from council.sandbox import Sandbox
from council.services import Council
from council.settings import Settings

log = logging.getLogger("council.demo")

SLUG = "demo"
TITLE = "Pleno de Jun — demo"
HASHTAG = "PlenoJun"
MODERATOR = "moderator"
DEMO_ACTOR = "demo"


@dataclass(frozen=True)
class Sample:
    name: str
    text: str
    neighborhood: str | None = None
    source: str = "web"
    handle: str | None = None
    verified: bool = False


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "Lucía Martínez",
        "¿Cuándo se va a arreglar la farola de la calle Real? Lleva tres "
        "semanas apagada y por la noche no se ve nada.",
        "Barrio de la Iglesia",
    ),
    Sample(
        "Antonio Jiménez",
        "¿Hay fecha para asfaltar el camino de Los Tablones? Con la lluvia "
        "se hace barro y los coches no pasan.",
        "Los Tablones",
        "x",
        "@antonio_jun",
        True,
    ),
    Sample(
        "María José Ruiz",
        "¿Se va a ampliar el horario de la biblioteca municipal en época de exámenes?",
        "Centro",
    ),
    Sample(
        "Tom Fletcher",
        "Will the recycling point near the school get a second glass "
        "container? It is full every weekend.",
        "Los Tablones",
        "mastodon",
        "@tomf@mastodon.online",
    ),
    Sample(
        "Carmen Ortega",
        "Gracias por el nuevo parque infantil. ¿Se podría poner algo de "
        "sombra en los columpios para el verano?",
        "Barrio de la Iglesia",
        "x",
        "@carmenortega",
        True,
    ),
    Sample(
        "José Ángel Núñez",
        "¿Qué pasa con el autobús a Granada los domingos? Los mayores no "
        "tienen cómo ir al hospital.",
    ),
    Sample(
        "Sarah O'Brien",
        "Is there a plan for a pedestrian crossing on the main road? Cars go "
        "very fast near the pharmacy.",
        "Centro",
    ),
    Sample(
        "Paco Fernández",
        "¿Cuánto ha costado la reforma del polideportivo y cuándo abre la piscina?",
        "Los Tablones",
        "mastodon",
        "@paco@jun.social",
        True,
    ),
    Sample(
        "Inés Gómez",
        "¿Se puede hacer algo con los excrementos de perro en la plaza? Pongan "
        "más papeleras con bolsas, por favor.",
        "Barrio de la Iglesia",
    ),
    Sample(
        "Rafael Muñoz",
        "¿Cuándo empiezan las obras del centro de salud? Se anunciaron hace un año.",
        None,
        "x",
        "@rafamunoz",
        False,
    ),
    Sample(
        "Elena Castillo",
        "¿Habrá wifi gratuito en la plaza del Ayuntamiento, como se prometió?",
        "Centro",
    ),
    Sample(
        "David Chen",
        "How can foreign residents sign up for the municipal sports "
        "activities? The form is only in Spanish.",
        "Los Tablones",
        "bluesky",
        "@davidchen.bsky.social",
    ),
    Sample(
        "Begoña Sáez",
        "Los vecinos pedimos que el mercadillo del jueves vuelva a la calle de "
        "la iglesia. ¿Es posible?",
        "Barrio de la Iglesia",
        "bluesky",
        "@begosaez.bsky.social",
        True,
    ),
    Sample(
        "Manolo Peña",
        "¿Por qué tarda tanto la respuesta a las averías del agua? Estuvimos "
        "dos días con una fuga en la calle.",
    ),
    Sample(
        "Ana Belén Ríos",
        "¿Se van a plantar árboles en el paseo nuevo? Ahora mismo no hay ni una sombra.",
        "Los Tablones",
    ),
    Sample(
        "Mark Wilson",
        "Thank you for streaming the meetings. Could the videos have subtitles "
        "for people with hearing loss?",
        "Centro",
    ),
    Sample(
        "Pilar Domínguez",
        "¿Qué se hace por los mayores que viven solos durante la ola de calor?",
        "Barrio de la Iglesia",
        "x",
        "@pilardominguez",
        True,
    ),
    Sample(
        "Javier Morales",
        "¿Se puede ampliar el aparcamiento junto al colegio? A la hora de entrada es un caos.",
    ),
    Sample(
        "Rocío Vílchez",
        "¿Cuándo se repara la fuente de la plaza? Los niños la echan de menos.",
        "Los Tablones",
    ),
    Sample(
        "Luis Alcántara",
        "¿Se va a publicar en la web el presupuesto municipal desglosado por áreas?",
        "Centro",
    ),
)


def display_host(host: str) -> str:
    """The host as a browser on this machine reaches it."""
    if host in {"", "0.0.0.0"}:  # noqa: S104 - naming the wildcard, not binding to it
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def bind(host: str, port: int) -> socket.socket:
    """Listen where asked before saying so: a port in use is a clear error, and 0 picks one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(
            _("cannot listen on {host} port {port}: {reason}").format(
                host=host, port=port, reason=exc.strerror or exc
            )
        ) from exc
    return sock


# Anything that could reach real data or outside services is switched off in the demo,
# whatever the environment says; the sources then read the stand-ins (see demo_settings).
# Names the settings do not have (yet) are left out.
DEMO_OVERRIDES: dict[str, Any] = {
    "redis_url": None,
    "public_url": None,
    "secure_cookies": False,
    "auto_migrate": True,
    "x_bearer_token": None,
    "x_stream": False,
    "x_replies": False,
    "x_cost_cap": None,
    "mastodon_instances": "",
    "mastodon_token": None,
    "mastodon_stream": False,
    "mastodon_replies": False,
    "bluesky_handle": None,
    "bluesky_app_password": None,
    "bluesky_replies": False,
    "record_when_live": None,
}
SOURCE_NAMES = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky"}


def demo_settings(data_dir: Path, sandbox: Sandbox | None = None) -> Settings:
    """The environment's settings (language, limits), pointed at the throwaway folder and,
    for X, Mastodon and Bluesky, at the stand-ins."""
    overrides = {k: v for k, v in DEMO_OVERRIDES.items() if k in Settings.model_fields}
    if sandbox is not None:
        overrides.update(sandbox.settings())
    return Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{(data_dir / 'council.db').resolve()}",
        secret_key=secrets.token_urlsafe(32),
        **overrides,
    )


class SampleFeed:
    """Hands out the sample questions in turn, round and round.

    A web sample is a question to submit; any other is a post for that source's stand-in,
    which the collector then brings in like any post.
    """

    def __init__(self, council: Council, sandbox: Sandbox | None = None) -> None:
        self.council = council
        self.sandbox = sandbox
        self._samples: Iterator[Sample] = itertools.cycle(SAMPLES)

    def next_sample(self) -> Sample:
        sample = next(self._samples)
        while self.sandbox is None and sample.source != "web":
            sample = next(self._samples)
        return sample

    def next_kwargs(self) -> dict[str, Any]:
        """The next web sample, as ``submit`` takes it."""
        sample = self.next_sample()
        while sample.source != "web":
            sample = self.next_sample()
        return self.web_kwargs(sample)

    def web_kwargs(self, sample: Sample) -> dict[str, Any]:
        question = check_question(
            name=sample.name,
            text=sample.text,
            neighborhood=sample.neighborhood,
            limits=self.council.limits,
        )
        return {"slug": SLUG, "question": question, "source": "web"}

    def post(self, sample: Sample) -> None:
        """Post a social sample on its stand-in, with the meeting's hashtag."""
        assert self.sandbox is not None and sample.handle is not None
        text = sample.text
        if f"#{HASHTAG}".lower() not in text.lower():
            text = f"{text} #{HASHTAG}"
        self.sandbox.post(sample.source, name=sample.name, handle=sample.handle, text=text)


def set_up(council: Council, feed: SampleFeed, password: str) -> str:
    """The live meeting, its moderator, the verified residents, and a few questions already
    moderated; one post on each social stand-in, so every source shows from the start.

    Returns the tracking token of a question left waiting, so the visitor can approve it
    and watch its tracking page change.
    """

    def write(fn: Callable[..., Any], **kwargs: Any) -> Any:
        return council.db.run_write(fn, **kwargs)[0]

    write(
        create_meeting,
        slug=SLUG,
        title=TITLE,
        hashtags=[HASHTAG],
        starts_at=datetime.now(UTC),
        actor=DEMO_ACTOR,
    )
    write(start_meeting, slug=SLUG, actor=DEMO_ACTOR)
    write(add_user, username=MODERATOR, password=password, role="moderator")
    for sample in SAMPLES:
        if sample.verified and sample.handle:
            write(
                add_resident,
                handle=sample.handle,
                source=sample.source,
                note="demo",
                actor=DEMO_ACTOR,
            )

    def tracked(session: Session, **kwargs: Any) -> str:
        return submit(session, **kwargs).track_token

    token: str = write(tracked, **feed.next_kwargs())
    # Something on the screen and in the queue from the first second.
    ids = [write(lambda s, **kw: submit(s, **kw).id, **feed.next_kwargs()) for _n in range(3)]
    for sub_id in ids:
        write(actions.approve, slug=SLUG, submission_id=sub_id, actor=DEMO_ACTOR)
    write(actions.show, slug=SLUG, submission_id=ids[0], actor=DEMO_ACTOR)
    if feed.sandbox is not None:
        for source in SOURCE_NAMES:
            feed.post(next(s for s in SAMPLES if s.source == source))
    return token


def banner(*, base: str, password: str, track_path: str, data_dir: Path, every: float) -> str:
    lines = [
        _("Council demo: a live meeting, a new sample question about every {s:g} s.").format(
            s=every
        ),
        "",
        _("  Chamber screen:  {url}").format(url=f"{base}/screen/{SLUG}"),
        _("  Moderate:        {url}").format(url=f"{base}/moderate/{SLUG}"),
        _("  Log in:          {url}").format(url=f"{base}/login"),
        _("  Public page:     {url}").format(url=f"{base}/m/{SLUG}"),
        _("  Track question:  {url}").format(url=f"{base}{track_path}"),
        "",
        _("  Username:        {user}").format(user=MODERATOR),
        _("  Password:        {password}").format(password=password),
        "",
        _(
            "Posts on X, Mastodon and Bluesky come from stand-in servers on this machine, "
            "read by Council's real collectors (the Sources panel on the moderator page)."
        ),
        _("Data is in {path} and is deleted when you stop the demo with Ctrl-C.").format(
            path=data_dir
        ),
    ]
    return "\n".join(lines)


async def trickle(server: uvicorn.Server, feed: SampleFeed, *, every: float, announce: str) -> None:
    """Once the server listens: say where to look, then send a sample question now and then."""
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.02)
    print(announce, flush=True)
    while not server.should_exit:
        await asyncio.sleep(every * random.uniform(0.6, 1.4))
        sample = feed.next_sample()
        if sample.source != "web":
            feed.post(sample)
            print(
                _("  new post on {service} from {name} ({handle})").format(
                    service=SOURCE_NAMES[sample.source], name=sample.name, handle=sample.handle
                ),
                flush=True,
            )
            continue
        kwargs = feed.web_kwargs(sample)
        try:
            sub = await feed.council.act(submit, **kwargs)
        except CouncilError as exc:  # e.g. the visitor ended the meeting from the admin page
            print(_("No more sample questions: {reason}").format(reason=exc), flush=True)
            return
        except Exception:
            log.exception("a sample question could not be sent")
            continue
        question = kwargs["question"]
        print(
            _("  new question #{id} from {name}{where}").format(
                id=sub.id,
                name=question.name,
                where=f" ({question.neighborhood})" if question.neighborhood else "",
            ),
            flush=True,
        )


def run_demo(*, host: str, port: int | None, trickle_seconds: float) -> int:
    if port is None:
        port = Settings().port
    data_dir = Path(tempfile.mkdtemp(prefix="council-demo-"))
    council: Council | None = None
    sandbox = Sandbox(poll_seconds=min(1.0, trickle_seconds))
    try:
        sock = bind(host, port)
        sandbox.start()
        app = create_app(demo_settings(data_dir, sandbox))
        council = app.state.council
        assert council is not None
        feed = SampleFeed(council, sandbox)
        password = secrets.token_urlsafe(12)
        token = set_up(council, feed, password)
        actual_port = sock.getsockname()[1]
        announce = banner(
            base=f"http://{display_host(host)}:{actual_port}",
            password=password,
            track_path=app.url_path_for("track_page", token=token),
            data_dir=data_dir,
            every=trickle_seconds,
        )
        config = uvicorn.Config(
            app,
            host=host,
            port=actual_port,
            ws_per_message_deflate=False,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        server = uvicorn.Server(config)

        async def serve() -> None:
            feeder = asyncio.create_task(
                trickle(server, feed, every=trickle_seconds, announce=announce)
            )
            try:
                await server.serve(sockets=[sock])
            finally:
                feeder.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feeder

        # uvicorn stops gracefully on Ctrl-C, then raises it again for us: that is the way out.
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve())
        sock.close()
        print(_("Demo stopped; its data is deleted."), flush=True)
        return 0
    finally:
        sandbox.stop()
        if council is not None:
            council.db.close()
        shutil.rmtree(data_dir, ignore_errors=True)
