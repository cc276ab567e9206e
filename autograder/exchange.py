"""nbgrader's exchange, as nbgrader itself configures and uses it: what students handed in, and
where feedback goes back.

The settings (`Exchange.root`, `CourseDirectory.course_id`, the late-penalty plugin, ...) are
read by nbgrader's own application class, so `course watch` sees what `nbgrader collect` would
see: `nbgrader_config.py` in Jupyter's config folders and in the current folder, then the one in
nbgrader's course folder, then options given as on nbgrader's command line
(`--Exchange.root=DIR`). nbgrader's course folder is `CourseDirectory.root` where the config sets
it, else the kit's own folder (the one with course.toml: `source/` and `release/` are nbgrader's).

Feedback goes back through nbgrader's `ExchangeReleaseFeedback`, from a scratch course folder
holding the one page, so that it is filed under the hash of that submission's own
`submission_secret.txt`: the student's `nbgrader fetch_feedback` finds it beside that
submission's timestamp, and one student's page can never answer another's submission.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError


class ExchangeError(ConfigError):
    """nbgrader's settings or its exchange folder cannot be used (the message names which)."""


@dataclass(frozen=True)
class Nbgrader:
    """nbgrader's configuration, loaded as nbgrader's own commands load it."""

    config: object  # traitlets.config.Config
    root: Path  # nbgrader's course folder (autograded/ goes there)
    course_id: str
    exchange_root: Path

    @property
    def inbound(self) -> Path:
        return self.exchange_root / self.course_id / "inbound"

    def coursedir(self, root: Path | None = None):
        """nbgrader's CourseDirectory with these settings (`root` for a scratch one)."""
        from nbgrader.coursedir import CourseDirectory

        return CourseDirectory(config=self.config, root=str(root or self.root))


def load(course_root: Path, argv: list[str] = ()) -> Nbgrader:
    """nbgrader's settings for the course at `course_root`; `argv` as nbgrader's command line takes
    them. ExchangeError when nbgrader's config is broken or names no course id (nbgrader's
    exchange needs one)."""
    from nbgrader.apps.baseapp import NbGrader
    from traitlets.config import Application

    app = NbGrader()
    # nbgrader's commands log a broken config file and carry on without it; a watcher that then
    # watched the wrong exchange would grade nothing, silently: here a broken file stops it
    app.raise_config_file_errors = True
    where = "nbgrader's configuration"
    try:
        app.initialize(list(argv))
        configured_root = "root" in app.config.get("CourseDirectory", {})
        if not configured_root:  # nbgrader run in the kit's folder would take that folder's config last
            app.coursedir.root = str(course_root)
            where = str(course_root / "nbgrader_config.py")
            Application.load_config_file(app, "nbgrader_config.py", path=str(course_root))
    except SystemExit as e:  # nbgrader's option parser exits on a bad option
        raise ExchangeError(f"{where}: could not be loaded (exit {e.code}): see the message above") from None
    except Exception as e:  # a config file that raises, or does not parse
        raise ExchangeError(f"{where}: could not be loaded: {type(e).__name__}: {e}") from None
    finally:
        NbGrader.clear_instance()
    config = app.config
    coursedir = app.coursedir
    from nbgrader.exchange.default import Exchange

    exchange = Exchange(config=config)
    course_id = coursedir.course_id
    if not course_id:
        raise ExchangeError(
            "nbgrader's exchange needs a course id: set c.CourseDirectory.course_id in "
            f"{Path(coursedir.root) / 'nbgrader_config.py'} (or give --CourseDirectory.course_id=ID)"
        )
    return Nbgrader(config, Path(coursedir.root), course_id, Path(exchange.root))


@dataclass(frozen=True)
class Submission:
    """One folder of the exchange's inbound: what one `nbgrader submit` handed in."""

    folder: Path  # inbound/<student>+<assignment>+<timestamp>[+<random>]
    student: str
    assignment: str
    timestamp: datetime.datetime  # UTC, naive, as nbgrader's parse_utc gives it
    timestamp_text: str  # timestamp.txt as written: what fetch_feedback names the feedback folder

    @property
    def key(self) -> str:
        """Unique per submission and stable: the inbound folder's name (nbgrader adds a random tail)."""
        return self.folder.name

    @property
    def notebooks(self) -> list[Path]:
        """The notebooks handed in: the assignment's own first, as `course grade` picks them."""
        own = self.folder / f"{self.assignment}.ipynb"
        others = sorted(p for p in self.folder.glob("*.ipynb") if p != own)
        return [own, *others] if own.exists() or not others else others

    @property
    def secret(self) -> str | None:
        try:
            return (self.folder / "submission_secret.txt").read_text()
        except OSError:
            return None


def inbound(nb: Nbgrader, assignments: list[str]) -> list[Submission]:
    """Every complete submission of `assignments` in the exchange's inbound, oldest first.

    A folder counts once `nbgrader submit` has written its `timestamp.txt` and
    `submission_secret.txt`, which it does after copying the notebooks: one still being copied is
    left for the next look. The student and assignment come from the folder's name, as nbgrader's
    collect reads them (a student id may hold '+'); the time from timestamp.txt."""
    from nbgrader.utils import parse_utc

    if not nb.inbound.is_dir():
        raise ExchangeError(
            f"{nb.inbound}: no inbound folder in nbgrader's exchange (Exchange.root = {nb.exchange_root}, "
            f"course id {nb.course_id!r}); has `nbgrader release_assignment` been run?"
        )
    found = []
    for folder in nb.inbound.iterdir():
        parts = folder.name.rsplit("+", 3)
        if len(parts) == 4 and parts[1] not in assignments and folder.name.rsplit("+", 2)[1] in assignments:
            parts = folder.name.rsplit("+", 2)  # no random tail (ExchangeSubmit.add_random_string off)
        if len(parts) < 3 or parts[1] not in assignments or not folder.is_dir():
            continue
        if not (folder / "submission_secret.txt").is_file():
            continue  # still being written by nbgrader submit (it writes this last)
        try:
            text = (folder / "timestamp.txt").read_text().strip()
            when = parse_utc(text)
        except (OSError, ValueError):
            text = parts[2]
            try:
                when = parse_utc(text)
            except ValueError:
                continue  # not a submission nbgrader wrote
        found.append(Submission(folder, parts[0], parts[1], when, text))
    return sorted(found, key=lambda s: (s.timestamp, s.key))


def release_feedback(nb: Nbgrader, sub: Submission, pages: dict[str, str]) -> list[Path]:
    """Put `pages` (notebook id -> HTML) where nbgrader's release_feedback puts feedback for this
    submission, by running nbgrader's own ExchangeReleaseFeedback on a scratch course folder that
    holds them beside the submission's timestamp.txt and submission_secret.txt (as
    `nbgrader generate_feedback` lays them out). Returns the exchange's files."""
    from nbgrader.auth import Authenticator
    from nbgrader.exchange import ExchangeFactory
    from nbgrader.utils import notebook_hash

    secret = sub.secret
    if secret is None:
        raise ExchangeError(f"{sub.folder}: no submission_secret.txt; nbgrader cannot key feedback to it")
    with tempfile.TemporaryDirectory(prefix="course-feedback-") as tmp:
        coursedir = nb.coursedir(Path(tmp))
        coursedir.assignment_id = sub.assignment
        coursedir.student_id = sub.student
        folder = Path(coursedir.format_path(coursedir.feedback_directory, sub.student, sub.assignment))
        folder.mkdir(parents=True)
        shutil.copy(sub.folder / "timestamp.txt", folder / "timestamp.txt")
        (folder / "submission_secret.txt").write_text(secret)
        for notebook_id, html in pages.items():
            (folder / f"{notebook_id}.html").write_text(html, encoding="utf-8")
        factory = ExchangeFactory(config=nb.config)
        release = factory.ReleaseFeedback(
            coursedir=coursedir, authenticator=Authenticator(config=nb.config), config=nb.config
        )
        try:
            release.start()  # copies to a temporary name, then renames: a fetch never sees half a page
        except Exception as e:  # nbgrader's ExchangeError, or an OSError of its copy
            raise ExchangeError(f"nbgrader release_feedback of {sub.key}: {e}") from None
    out = nb.exchange_root / nb.course_id / "feedback"
    return [out / f"{notebook_hash(secret=secret, notebook_id=n)}.html" for n in pages]
