"""One conversation turn: check the message, fit the context, stream the reply, persist both.

    service = ChatService.open(settings)            # the default model, a new conversation
    turn = service.send("What is on today?")
    for text in turn:                               # stream to the screen
        ...
    turn.reply                                      # usage, finish reason, model

The user's message is stored before the model is called, so a model that
fails (a server down, a timeout) never loses what the person wrote. A reply
cut short by Ctrl-C, a cancel event or an error mid-stream is stored with
the text that arrived, marked interrupted. Memory takes part on both sides:
the profile, known facts and recalled turns go into the system message before
the reply; indexing and fact learning run on a background thread after it.
"remember that ..." and "forget that ..." are carried out without the model, and so
is progress on a goal ("ran 12 km this morning", psi.goals.conversation); a model
that calls tools natively also gets the goal tools, run between its replies.

Routing (psi.routing): every turn that goes to a model labels the prompt's spans
by source (psi.sensitivity) and asks its `router` which models may see them.
When the policy can send anything off the machine (privacy or a level override
other than local-only), the route picks the model: the first of `route.chain`
that can be built, unless the user pinned one (--model, /model), and the turns
after a failure before any text fall back along the chain with a note
(`Turn.notes`). A remote model is used through the egress door under the
privacy the route gives the data's level. Under local-only everywhere, the
route cannot change anything, so it is worked out only if asked (`/why`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from psi.agent.acting import Acting
from psi.agent.context import fit_history, memory_block
from psi.agent.inputs import check_message
from psi.agent.remembering import FactLearner, explicit_reply
from psi.agent.routes import Router, month_spend, policy_router
from psi.clock import Clock, system_clock
from psi.config import Settings
from psi.errors import ModelError, PsiError
from psi.goals.conversation import GoalChat
from psi.goals.store import Goals
from psi.knowledge.citing import Source as DocSource
from psi.knowledge.citing import passages_block, source_of, sources_cited
from psi.knowledge.library import Library
from psi.llm.base import ChatModel, ChatStream, prompt_text
from psi.llm.registry import get_model
from psi.llm.types import ChatOptions, Message, Reply, ToolSpec
from psi.memory.facts import Fact, Facts
from psi.memory.profile import Profile, Profiles, profile_block
from psi.memory.service import BackgroundIndexer, Memory, TextEmbedder
from psi.safety.approval import Approvals, Approver, HoldForUser, Refuse
from psi.safety.audit import Audit
from psi.safety.guards import Guards
from psi.safety.refusal import care_note, refusal
from psi.safety.spotlight import DATA_RULE, new_key, spotlight
from psi.safety.types import Channel, Verdict
from psi.sensitivity import Source, Span
from psi.store.conversations import Conversations, StoredMessage
from psi.store.db import Store, open_store
from psi.tools.base import TRUSTED_SOURCES, Toolbox, ToolContext
from psi.tools.builtin import builtin_toolbox

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from psi.goals.delivery import NoticeView
    from psi.routing import Route
    from psi.safety.types import Guard

RECALL_ITEMS = 6
RECALL_FACTS = 5
# A passage scoring under this share of the best one is left out: in a small library
# every passage is a vector candidate, and a weak one only invites a wrong citation.
PASSAGE_FLOOR = 0.4
# Rounds of tool calls a reply may make before it must answer.
MAX_TOOL_ROUNDS = 4


def _guard(settings: Settings) -> Guard | None:
    from psi.safety.registry import get_guard

    return get_guard(settings)


def load_embedder(settings: Settings) -> TextEmbedder:
    # Imported on first use: the embedder pulls in torch, which the CLI must not load at start.
    from psi.embed.registry import get_embedder

    return get_embedder(settings)


@dataclass(frozen=True)
class Started:
    """A reply begun on `model`: its stream, the prompt fitted to its window, its tools."""

    model: ChatModel
    stream: ChatStream
    prompt: list[Message]
    tools: list[ToolSpec] | None
    dropped: int


@dataclass(frozen=True)
class Consulted:
    """What the user's documents gave a turn: the block for the model, the sources it
    numbers, and what the person should hear (passages withheld)."""

    block: str | None = None
    sources: list[DocSource] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# Writes a verdict to the audit log in the transaction storing what it judged:
# (connection, conversation id) -> the audit row's id.
VerdictWriter = Callable[["Connection", int | None], object]


def verdict_writer(judged: tuple[Verdict, str] | None, audit: Audit | None) -> VerdictWriter | None:
    """What writes `judged` (a verdict and the text it judged) to the audit log inside the
    transaction storing that text: (connection, conversation id) -> row id."""
    if judged is None or audit is None:
        return None
    verdict, text = judged

    def write(connection: Connection, conversation_id: int | None) -> object:
        return audit.verdict_in(connection, verdict, text, conversation_id=conversation_id)

    return write


@dataclass(frozen=True)
class Known:
    """What a reply reads first (ChatService._known)."""

    facts: list[Fact] | None
    profile: Profile | None
    documents: bool


class ChatService:
    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        user_id: int,
        model: ChatModel,
        conversation_id: int | None = None,
        memory: Memory | None = None,
        embed: bool = True,
        clock: Clock = system_clock,
        router: Router | None = None,
        guards: Guards | None = None,
        approver: Approver | None = None,
        toolbox: Toolbox | None = None,
        indexer: BackgroundIndexer | None = None,
        owns_store: bool = True,
        library: Library | None = None,
    ) -> None:
        """`router` decides which models may see a prompt (default: the user's routing
        policy and this month's spend in the egress ledger); `guards` judge every channel
        (default: the `[safety]` guard and policy); `approver` answers for tool calls that
        need the user's yes (default: hold them for `psi approvals`, as for any run with
        nobody to ask); `toolbox` is what a model that calls tools may use. A server
        passes its long-lived `indexer` for the user and `owns_store=False`: then `close`
        neither stops that indexer nor disposes the shared store. `library` holds the
        user's documents: while `use_documents` is on, each message brings the passages
        most relevant to it into the context, guarded and spotlighted, to be cited."""
        self.settings = settings
        self.store = store
        self.user_id = user_id
        self.model = model
        self.conversations = Conversations(store, user_id=user_id)
        self.conversation_id = conversation_id
        self.clock = clock
        self.router = router or policy_router(
            lambda: self.settings,
            spend=month_spend(store, user_id, zone=settings.zone(), clock=clock),
        )
        self.last_turn: Turn | None = None
        # The user chose the model (--model, /model): routing may refuse it, never swap it.
        self.pinned = False
        self.memory = memory
        self.facts = Facts(store, user_id=user_id) if memory is not None else None
        self.learner = self._learner() if memory is not None else None
        self._own_indexer = indexer is None
        self.owns_store = owns_store
        self.indexer = indexer or (
            BackgroundIndexer(memory, embed=embed, after=self.learner)
            if memory is not None
            else None
        )
        self.goal_chat = GoalChat(Goals(store, user_id=user_id, zone=settings.zone(), clock=clock))
        self.audit = Audit(store, user_id=user_id, clock=clock)
        self.approvals = Approvals(store, user_id=user_id, clock=clock)
        self.guards = guards or Guards(lambda: _guard(self.settings), settings.safety, self.audit)
        self.approver: Approver = approver or (
            Refuse() if settings.safety.confirm == "deny" else HoldForUser()
        )
        self.toolbox = toolbox or builtin_toolbox()
        self.library = library
        self.use_documents = library is not None
        # The guard's verdict on the message being sent, audited when it is stored.
        self._unrecorded: tuple[Verdict, str] | None = None
        # A fresh key per turn marks untrusted text (psi.safety.spotlight); a test that
        # needs the same prompt every run fixes it.
        self.spotlight_key: Callable[[], str] = new_key
        if self.indexer is not None and embed:
            # A long-running session: load the embedder, embed what is missing and build
            # snapshots of a large memory while the user types the first message.
            self.indexer.notify()

    def _learner(self) -> FactLearner | None:
        if self.settings.fact_model is None:
            return None
        return FactLearner(
            model=get_model(self.settings.profile(self.settings.fact_model), self.settings),
            conversations=self.conversations,
            facts=Facts(self.store, user_id=self.user_id),
        )

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        model: str | None = None,
        conversation_id: int | None = None,
        resume: bool = False,
        embed: bool = True,
        clock: Clock = system_clock,
        documents: bool | None = None,
    ) -> ChatService:
        """A service on the configured database, for the named profile (default: settings).

        `embed=False` suits one-shot commands: memory is still indexed for keyword
        recall, but the embedding model is not loaded after the answer. `documents`
        answers from the user's documents while there are any (None: when `docs.chat`
        is on)."""
        store = open_store(settings.db_url)
        user_id = store.ensure_user(settings.user)
        chat_model = get_model(settings.profile(model), settings)
        memory = Memory(store, user_id=user_id, embedder=lambda: load_embedder(settings))
        service = cls(
            settings=settings,
            store=store,
            user_id=user_id,
            model=chat_model,
            memory=memory,
            embed=embed,
            clock=clock,
            library=Library(
                store,
                user_id=user_id,
                settings=settings.docs,
                embedder=memory.embedder,
                clock=clock,
            ),
        )
        # Each message consults the documents while there are any (ChatService._known).
        service.use_documents = settings.docs.chat if documents is None else documents
        service.pinned = model is not None
        # The guard loads (about 0.7 s for the embedded one) while the model does.
        service.guards.warm()
        if conversation_id is not None:
            service.resume(conversation_id)
        elif resume:
            service.conversation_id = service.conversations.latest()
        return service

    def resume(self, conversation_id: int) -> None:
        self.conversations.messages(conversation_id)  # NotFound if it is not this user's
        self.conversation_id = conversation_id

    def new_conversation(self) -> None:
        """The next message starts a new conversation (created lazily, so no empty ones)."""
        self.conversation_id = None

    def use_model(self, profile_name: str) -> None:
        self.model = get_model(self.settings.profile(profile_name), self.settings)
        self.pinned = True

    def routes_models(self) -> bool:
        """Whether the policy lets anything leave, so the route must pick the model."""
        return self.settings.routing.may_send_out

    def set_privacy(self, privacy: str) -> None:
        """Save `privacy` as routing.privacy in config.toml (as `psi config set` does) and
        route by it from the next message on. ConfigError, file untouched, if invalid."""
        from psi.config import load_settings, set_config_value

        set_config_value("routing.privacy", privacy)
        self.settings = load_settings()

    def history(self) -> list[StoredMessage]:
        if self.conversation_id is None:
            return []
        return self.conversations.messages(self.conversation_id)

    def take_notices(self) -> list[NoticeView]:
        """What psi reached out with since the last chat showed it (oldest first), now
        marked shown, so each notice appears in one chat only."""
        from psi.goals.delivery import mark_shown, pending_notices

        waiting = pending_notices(self.store, self.user_id)
        if waiting:
            mark_shown(self.store, self.user_id, [n.id for n in waiting], at=self.clock())
        return waiting

    def system_message(
        self,
        recalled: str | None = None,
        *,
        care: str | None = None,
        key: str | None = None,
        data_rule: bool = False,
        documents: str | None = None,
        profile: Profile | None = None,
    ) -> Message:
        """The system message: psi's prompt, today, the profile (`profile`, when it was
        read already), and what memory recalled, spotlighted as data under the turn's
        `key` (with the rule that says what that means, also given when `data_rule` asks
        for it: tool output will come)."""
        base = self.settings.system_prompt or prompt_text("system.md").strip()
        today = self.clock().strftime("%A %d %B %Y")
        parts = [base, f"Today is {today}."]
        if care:
            parts.append(care)
        if recalled or documents or data_rule:
            parts.append(DATA_RULE)
        if self.memory is not None:
            if profile is None:
                profile = Profiles(self.store, user_id=self.user_id).get()
            block = profile_block(profile.text)
            if block:
                parts.append(block)
        key = key or self.spotlight_key()
        if recalled:
            parts.append(spotlight(recalled, "memory", key))
        if documents:
            parts.append(spotlight(documents, "documents", key))
        return Message.system("\n".join(parts))

    def has_documents(self) -> bool:
        return self.library is not None and self.library.index.any()

    def _known(self) -> Known:
        """What a reply reads before it is written, in one transaction: the current facts
        (recall searches them, the profile is built of them), the profile, and whether
        the user's documents are to be consulted (`use_documents` and there are any, so
        one added since the last message answers this one)."""
        with self.store.transaction() as connection:
            facts = None
            profile = None
            if self.memory is not None and self.facts is not None:
                facts = self.facts.current(connection=connection)
                profile = Profiles(self.store, user_id=self.user_id).get(
                    current=facts, connection=connection
                )
            documents = (
                self.use_documents
                and self.library is not None
                and self.library.index.any(connection=connection)
            )
        return Known(facts, profile, documents)

    def consult(self, text: str) -> Consulted:
        """The passages of the user's documents most relevant to `text`, as a numbered
        block for the system message. Each passes the document-channel guard first; one
        that reads as instructions (and the policy blocks that) is withheld: its number
        and place stay, its text does not."""
        if self.library is None or not self.use_documents:
            return Consulted()
        hits = self.library.search(text, limit=self.settings.docs.passages)
        best = hits[0].score if hits else 0.0
        numbered: list[tuple[DocSource, str]] = []
        notes = []
        for hit in hits:
            if hit.score <= 0 or hit.score < PASSAGE_FLOOR * best:
                continue
            number = len(numbered) + 1
            verdict = self.guards.check(
                hit.passage.text, Channel.document, conversation_id=self.conversation_id
            )
            body = hit.passage.text
            withheld = verdict.action == "block"
            if withheld:
                reasons = "; ".join(verdict.reasons)
                body = f"[psi withheld this passage: {reasons}]"
                notes.append(
                    f"psi withheld passage [{number}] ({source_of(number, hit.passage).where}) "
                    f"from the model: {reasons}."
                )
            numbered.append((source_of(number, hit.passage, withheld=withheld), body))
        block, sources = passages_block(
            numbered,
            header=prompt_text("documents.md").strip(),
            budget=self.model.context_window // 4,
            count=self.model.count_tokens,
        )
        return Consulted(block=block, sources=sources, notes=notes)

    def recall(self, text: str, *, facts: Sequence[Fact] | None = None) -> str | None:
        """What memory holds about `text` (known facts, then said turns) as a block for the
        system message, or None. `facts`: the current facts, when they were read already."""
        if self.memory is None or self.facts is None:
            return None
        blocks = []
        known = self.facts.search(text, limit=RECALL_FACTS, among=facts)
        if known:
            lines = [
                f"- {json.dumps(f.statement, ensure_ascii=False)} (since {f.valid_from:%Y-%m-%d})"
                for f in known
            ]
            blocks.append(prompt_text("facts.md").strip() + "\n" + "\n".join(lines))
        found = [
            item
            for item in self.memory.recall(text, limit=RECALL_ITEMS, now=self.clock())
            # This conversation's own turns are in the history already.
            if item.episode.conversation_id != self.conversation_id
        ]
        said = memory_block(
            found,
            header=prompt_text("memory.md").strip(),
            budget=self.model.context_window // 4,
            count=self.model.count_tokens,
        )
        if said:
            blocks.append(said)
        return "\n".join(blocks) or None

    def send(self, text: str, *, options: ChatOptions | None = None) -> Turn:
        """Store the user's message and start the reply. Raises InputError before storing.

        The message is judged first (channel user): a blocked one is stored with psi's
        refusal as the reply, and no model sees it; a sensitive one ("warn") is answered
        with a line in the system message that asks for care."""
        text = check_message(text, max_chars=self.settings.max_message_chars)
        try:
            verdict = self.guards.check(
                text, Channel.user, conversation_id=self.conversation_id, record=False
            )
        except ModelError:
            # A guard that cannot judge stops the turn, but what the person wrote is kept.
            self._store_user_message(text)
            raise
        # The verdict is audited with the message, in the transaction that stores it; if
        # the message is refused before it is stored, on its own.
        self._unrecorded = (verdict, text)
        try:
            return self._answer(text, verdict, options)
        finally:
            if (writer := self._verdict_writer()) is not None:
                with self.store.writing() as connection:
                    writer(connection, self.conversation_id)

    def _answer(self, text: str, verdict: Verdict, options: ChatOptions | None) -> Turn:
        if verdict.action == "block":
            self._store_user_message(text)
            done = Reply(message=Message.assistant(refusal(verdict)), model="psi")
            turn = self._started(ChatStream.of_reply(done), dropped=0)
            turn.verdicts.append(verdict)
            return turn
        if self.memory is not None and self.facts is not None:
            answer = explicit_reply(
                text,
                memory=self.memory,
                facts=self.facts,
                store_user_message=self._store_user_message,
                at=self.clock(),
            )
            if answer is not None:
                done = Reply(message=Message.assistant(answer), model="psi")
                return self._started(ChatStream.of_reply(done), dropped=0)
        answer = self.goal_chat.intercept(
            text, store_message=lambda: self._store_user_message(text)
        )
        if answer is not None:
            done = Reply(message=Message.assistant(answer), model="psi")
            return self._started(ChatStream.of_reply(done), dropped=0)
        new = Message.user(text)
        history = [stored.chat for stored in self.history()]
        key = self.spotlight_key()
        known = self._known()
        recalled = self.recall(text, facts=known.facts)
        consulted = self.consult(text) if known.documents else Consulted()
        # Untrusted content already in the context: recalled memories, document passages,
        # earlier tool output.
        untrusted = {"memory"} if recalled else set()
        if consulted.sources:
            untrusted.add("document")
        for m in history:
            if m.role == "tool":
                tool = self.toolbox.get(m.name or "")
                source = tool.output if tool is not None else "tool"
                if source not in TRUSTED_SOURCES:
                    untrusted.add(source)
        system = self.system_message(
            recalled,
            care=care_note(verdict),
            key=key,
            data_rule=self.model.supports_tools,
            documents=consulted.block,
            profile=known.profile,
        )
        # Labelled before fitting: what a smaller window leaves out can only lower the level.
        routed = self.routes_models()
        spans = self._spans([system, *history, new], detect=routed)
        # Goal tools help when a model has them, but progress is logged without them
        # (psi.goals.conversation), so routing does not demand them.
        wants_tools = False
        options = options or ChatOptions()
        candidates = [self.model]
        route: Route | None = None
        if routed:
            route = self.router(spans, tools=wants_tools)
            if not self.pinned:
                candidates = self._models(route)

        def fit(model: ChatModel) -> tuple[list[Message], list[ToolSpec] | None, int]:
            tools = self.toolbox.specs() if model.supports_tools else None
            earlier = history
            if tools is None:
                # Tool traffic from an earlier model that called tools means nothing here.
                earlier = [m for m in history if m.role != "tool" and not m.tool_calls]
            fitted = fit_history(
                system=system,
                history=earlier,
                new=new,
                window=model.context_window,
                reserve=options.max_tokens or model.profile.max_tokens,
                count=lambda m: model.count_tokens(m.content) + 4,
                model_name=model.name,
            )
            return fitted.messages, tools, fitted.dropped

        def start(
            model: ChatModel, fitted: tuple[list[Message], list[ToolSpec] | None, int] | None = None
        ) -> Started:
            prompt, tools, dropped = fitted or fit(model)
            stream = model.stream(prompt, tools=tools, options=options)
            return Started(model, stream, prompt, tools, dropped)

        # A message that fits no window is refused before it is stored.
        fitted = fit(candidates[0])
        message_id = self._store_user_message(text)
        first = start(candidates[0], fitted)
        turn = self._started(
            first.stream,
            dropped=first.dropped,
            route=(lambda: route)
            if route is not None
            else (lambda: self.router(spans, tools=wants_tools)),
            model=first.model,
        )
        turn.fallbacks = candidates[1:]
        turn.restart = start
        turn.sources = consulted.sources
        turn.notes.extend(consulted.notes)
        turn.verdicts.append(verdict)
        turn.asked = text
        if first.tools:
            turn.use_tools(first.tools, prompt=first.prompt, options=options, source=message_id)
            turn.acting = self.acting(key=key, untrusted=untrusted, source=message_id)
        return turn

    def acting(self, *, key: str, untrusted: set[str], source: int | None) -> Acting:
        """The gate a turn's tool calls pass: approval, audit, guards, spotlighting."""
        ctx = ToolContext(
            settings=self.settings,
            store=self.store,
            user_id=self.user_id,
            clock=self.clock,
            conversation_id=self.conversation_id,
            source_message_id=source,
        )
        return Acting(
            toolbox=self.toolbox,
            ctx=ctx,
            approver=self.approver,
            audit=self.audit,
            approvals=self.approvals,
            guards=self.guards,
            key=key,
            untrusted=untrusted,
            # The user's profile, memories and goals are always a tool call away.
            private=True,
        )

    def _models(self, route: Route) -> list[ChatModel]:
        """The route's chain as models, each remote one behind the door with the privacy
        the route gives this data. A profile that cannot be built (no API key, a missing
        file) is passed over; the local default at the chain's end always stays."""
        models = []
        for name in route.chain:
            privacy = route.privacy if name in route.remote else None
            try:
                models.append(
                    get_model(self.settings.profile(name), self.settings, privacy=privacy)
                )
            except PsiError:
                continue
        return models or [self.model]

    def _started(
        self,
        stream: ChatStream,
        *,
        dropped: int,
        route: Callable[[], Route] | None = None,
        model: ChatModel | None = None,
    ) -> Turn:
        self.last_turn = Turn(
            self, self._conversation(), stream, dropped=dropped, route=route, model=model
        )
        return self.last_turn

    def _spans(self, messages: Sequence[Message], *, detect: bool = False) -> list[Span]:
        """The prompt as labelled spans: what the user said is personal, and so is the
        system message once memory (profile, recalled facts and turns) is in it. With
        `detect`, the PII each message holds raises its span (a card number: sensitive);
        only worth its ~10 ms per 1,000 characters when the route can send data out."""
        system = Source.memory if self.memory is not None else Source.system_prompt
        source = {
            "system": system,
            "user": Source.user_message,
            "assistant": Source.memory,
            "tool": Source.tool_output,
        }
        if not detect:
            return [Span.of(m.content, source[m.role]) for m in messages]
        from psi.egress.detect import find

        return [
            Span.of(m.content, source[m.role], [f.entity_type for f in find(m.content)])
            for m in messages
        ]

    def _conversation(self) -> int:
        if self.conversation_id is None:
            self.conversation_id = self.conversations.create(
                model_profile=self.model.name, at=self.clock()
            )
        return self.conversation_id

    def _store_user_message(self, text: str) -> int:
        also = self._verdict_writer()
        if self.conversation_id is None:
            # A new conversation and its first message in one transaction.
            self.conversation_id, message_id = self.conversations.start(
                Message.user(text), model_profile=self.model.name, at=self.clock(), also=also
            )
            return message_id
        return self.conversations.add(
            self.conversation_id, Message.user(text), at=self.clock(), also=also
        )

    def _verdict_writer(self) -> VerdictWriter | None:
        """What writes the guard's verdict on the message being stored, once (None when
        it is written already, or nothing audits)."""
        judged, self._unrecorded = self._unrecorded, None
        return verdict_writer(judged, self.guards.audit)

    def ask(self, text: str, *, options: ChatOptions | None = None) -> Reply:
        """Send and wait for the whole reply."""
        turn = self.send(text, options=options)
        for _ in turn:
            pass
        return turn.reply

    def close(self) -> None:
        """Finish indexing what this session said (after the last reply), then let go."""
        if self.indexer is not None and self._own_indexer:
            self.indexer.close()
        if self.owns_store:
            self.store.dispose()


class Turn:
    """A reply being generated. Iterate for text; it is stored when it ends, however it ends."""

    def __init__(
        self,
        service: ChatService,
        conversation_id: int,
        stream: ChatStream,
        *,
        dropped: int,
        route: Callable[[], Route] | None = None,
        model: ChatModel | None = None,
    ) -> None:
        self.service = service
        self.conversation_id = conversation_id
        self.stream = stream
        self.dropped = dropped
        # The model answering: the route's pick, or the one the user chose.
        self.model = model or service.model
        self.model_name = self.model.name if route is not None else None
        # Models to try next if this one fails before any text, and how to start one.
        self.fallbacks: list[ChatModel] = []
        self.restart: Callable[[ChatModel], Started] | None = None
        self.notes: list[str] = []
        self._route = route
        self._routed: Route | None = None
        self.message_id: int | None = None
        self.tools: list[ToolSpec] = []
        self.prompt: list[Message] = []
        self.options: ChatOptions | None = None
        self.source: int | None = None
        self.tool_rounds = 0
        self.acting: Acting | None = None
        # The guards' verdicts on this turn: the user's message, then the reply.
        self.verdicts: list[Verdict] = []
        self.withheld = False
        # What the user asked, for a guard that judges an answer against its question.
        self.asked: str | None = None
        # The document passages the model was given, numbered as it may cite them.
        self.sources: list[DocSource] = []
        self._replaced: Reply | None = None
        # The guard's verdict on the reply, audited when the reply is stored.
        self._unrecorded: tuple[Verdict, str] | None = None

    def use_tools(
        self,
        tools: list[ToolSpec],
        *,
        prompt: Sequence[Message],
        options: ChatOptions,
        source: int,
    ) -> None:
        """Let the model call `tools`: each round of calls is run, stored, and answered
        with another reply, up to MAX_TOOL_ROUNDS."""
        self.tools, self.prompt, self.options, self.source = tools, list(prompt), options, source

    def route(self) -> Route | None:
        """What the routing policy decides for this turn's prompt (None for a reply psi
        gave itself); worked out on first asking, since it does not yet pick the model."""
        if self._routed is None and self._route is not None:
            self._routed = self._route()
        return self._routed

    @property
    def notice(self) -> str | None:
        """What the person should know about the context, e.g. older turns left out."""
        if not self.dropped:
            return None
        return (
            f"{self.dropped} earlier message{'s' if self.dropped != 1 else ''} left out to fit "
            f"model '{self.model.name}' "
            f"({self.model.context_window:,}-token window)."
        )

    def __iter__(self) -> Iterator[str]:
        while True:
            try:
                yield from self.stream
            except (KeyboardInterrupt, GeneratorExit):
                self.interrupt()
                raise
            except ModelError as exc:
                if self.stream.text or not self._fall_back(exc):
                    if self.stream.text:
                        self.interrupt()
                    raise
                continue
            except PsiError:
                if self.stream.text:
                    self.interrupt()
                raise
            reply = self.stream.reply
            if not (reply.message.tool_calls and self.tools):
                break
            if self.tool_rounds >= MAX_TOOL_ROUNDS:
                break
            self._run_tools(reply)
        self._judge_reply()
        flagged = getattr(self.model, "last_flagged", None)
        if flagged:
            shown = ", ".join(dict.fromkeys(flagged))
            self.notes.append(
                f"The answer held placeholders psi never issued or that were changed on the "
                f"way ({shown}); they are left as they are, not guessed."
            )
        self._save(self.reply)

    def _fall_back(self, failure: ModelError) -> bool:
        """Start the next model of the route after `failure`; False when none is left."""
        if not self.fallbacks or self.restart is None:
            return False
        failed, self.model = self.model, self.fallbacks.pop(0)
        self.notes.append(
            f"{failed.name} failed ({failure.message}); answered by {self.model.name}."
        )
        self.model_name = self.model.name
        started = self.restart(self.model)
        self.stream, self.dropped = started.stream, started.dropped
        self.tools, self.prompt = started.tools or [], started.prompt
        return True

    def _run_tools(self, reply: Reply) -> None:
        service = self.service
        service.conversations.add(
            self.conversation_id, reply.message, model_profile=self.model.name,
            at=service.clock(),
        )  # fmt: skip
        results = []
        acting = self.acting or service.acting(
            key=service.spotlight_key(), untrusted=set(), source=self.source
        )
        self.acting = acting
        for call in reply.message.tool_calls:
            seen = len(acting.notes)
            output = acting.run(call)
            self.notes.extend(acting.notes[seen:])
            result = Message.tool(output, tool_call_id=call.id, name=call.name)
            service.conversations.add(self.conversation_id, result, at=service.clock())
            results.append(result)
        self.tool_rounds += 1
        self.prompt = [*self.prompt, reply.message, *results]
        self.stream = self.model.stream(self.prompt, tools=self.tools, options=self.options)

    def _judge_reply(self) -> None:
        """The model's answer passes the guard (channel model); a blocked one is not kept:
        the stored reply says what was withheld and why."""
        reply = self.stream.reply
        if reply.model == "psi" or not reply.text.strip():
            return
        service = self.service
        verdict = service.guards.check(
            reply.text, Channel.model, conversation_id=self.conversation_id, prompt=self.asked,
            record=False,
        )  # fmt: skip
        # Audited with the reply, in the transaction that stores it (`_save`).
        self._unrecorded = (verdict, reply.text)
        self.verdicts.append(verdict)
        if verdict.action != "block":
            return
        self.withheld = True
        shown = refusal(verdict, what="that answer")
        self.notes.append(
            "psi's guard flagged the answer above, so it was not kept: "
            + "; ".join(verdict.reasons)
        )
        self._replaced = reply.model_copy(update={"message": Message.assistant(shown)})

    @property
    def reply(self) -> Reply:
        return self._replaced or self.stream.reply

    @property
    def cited(self) -> list[DocSource]:
        """The sources the reply cites as [n]; none for a reply the guard withheld."""
        if self.withheld:
            return []
        return sources_cited(self.reply.text, self.sources)

    def interrupt(self) -> Reply:
        """Stop the reply and store what arrived, marked interrupted."""
        reply = self.stream.interrupt()
        self._save(reply)
        return reply

    def _save(self, reply: Reply) -> None:
        if self.message_id is not None:
            return
        self.message_id = self.service.conversations.add(
            self.conversation_id,
            reply.message,
            model_profile=self.model.name,
            prompt_tokens=reply.usage.prompt_tokens,
            completion_tokens=reply.usage.completion_tokens,
            interrupted=reply.finish_reason == "interrupted",
            at=self.service.clock(),
            also=verdict_writer(self._unrecorded, self.service.guards.audit),
        )
        self._unrecorded = None
        if self.service.learner is not None:
            self.service.learner.note(self.conversation_id)
        if self.service.indexer is not None:
            self.service.indexer.notify()
