"""Rules for what a classifier trained on words misses: characters a reader cannot see,
payloads hidden in an encoding, and phrases that try to take over the model's role or
draw out what it guards (its password, its prompt, the data of the user it serves).

    fired = apply_rules("Ignore previous instructions and ...")
    fired                          # (Rule(name="override-previous", injection=0.9),)

Each rule has a name (reported in Assessment.rules) and the injection score it raises
a text to. Pure functions over strings; no rule looks at the channel, the policy does.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    injection: float
    fires: Callable[[str], bool]


# Tag characters (U+E0000-E007F) spell ASCII no one sees; models read them.
_TAGS = re.compile("[\U000e0000-\U000e007f]")
# Zero-width space, word joiner, Mongolian vowel separator, and a BOM after the start.
# ZWNJ (U+200C) is left out: Persian and Indic scripts need it.
_ZERO_WIDTH = re.compile("[\u200b\u2060\u180e\u2062\u2063\u2064]|(?<!^)\ufeff")
# A ZWJ between two Latin letters joins nothing; between emoji it builds one glyph.
_ZWJ_IN_LATIN = re.compile("[A-Za-z]\u200d[A-Za-z]")
# Embeddings, overrides and isolates reorder what is shown against what is read.
# The marks LRM/RLM (U+200E/F) are ordinary in Arabic and Hebrew and are left out.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])")
_BASE64_URL = re.compile(r"(?<![A-Za-z0-9_\-=])[A-Za-z0-9_\-]{24,}={0,2}(?![A-Za-z0-9_\-=])")
_BINARY = re.compile(r"(?<![01])(?:[01]{8}[ ,]?){8,}(?![01])")
_MORSE = re.compile(r"(?<![.\-/])(?:[.\-]{1,6}(?:\s+/\s+|\s+)){11,}[.\-]{1,6}(?![.\-/])")
# Letter then code, one pair a word.
_MORSE_TABLE = (
    "a.- b-... c-.-. d-.. e. f..-. g--. h.... i.. j.--- k-.- l.-.. m-- n-. o--- p.--. q--.- "
    "r.-. s... t- u..- v...- w.-- x-..- y-.-- z--.. 0----- 1.---- 2..--- 3...-- 4....- 5..... "
    "6-.... 7--... 8---.. 9----."
)
_MORSE_CODE = {pair[1:]: pair[0] for pair in _MORSE_TABLE.split()}
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :]?){16,}(?![0-9A-Fa-f])")

_OVERRIDE = re.compile(
    r"\b(ignore|disregard|forget|override|bypass|skip|drop)\b[\w\s,'’-]{0,40}?"
    r"\b(previous|prior|above|earlier|preceding|former|original|initial|all|your|system|the)\b"
    r"[\w\s'’-]{0,30}?\b(instructions?|prompts?|rules|directions|directives|guidelines|"
    r"commands|context|messages?|constraints|restrictions|programming|guardrails)\b",
    re.IGNORECASE,
)
_NEW_ROLE = re.compile(
    r"\b(you are now|you're now|from now on,? you (are|will|must|shall)|"
    r"pretend (that )?you are|act as (an? )?(unrestricted|unfiltered|jailbroken|evil|DAN)|"
    r"you have no (restrictions|rules|limits|guidelines)|"
    r"(god|jailbreak|DAN|unrestricted|unfiltered|override) mode|"
    r"developer mode (enabled|on|activated))",
    re.IGNORECASE,
)
_ROLE_LINE = re.compile(
    r"(^|\n)\s*(\[?\s*(system|assistant|developer|admin(istrator)?)\s*[\]:>]|"
    r"<\|?\s*(im_start|system|endoftext)\s*\|?>|#{2,}\s*(system|new instructions?))",
    re.IGNORECASE,
)
_NEW_INSTRUCTIONS = re.compile(
    r"\b(new|updated|real|actual|secret|hidden) (instructions?|task|directive)s?\s*:",
    re.IGNORECASE,
)
# Short forms of the override: "ignore the above", "forget what you have been told",
# "regardless of previous tasks", "ignore the function and say ...".
_OVERRIDE_SHORT = re.compile(
    r"\b(ignore|disregard|forget|overlook)\s+(all\s+|everything\s+)?(of\s+)?the\s+above\b|"
    r"\b(ignore|disregard|forget|overlook)\b[^.\n]{0,30}?\byou('ve|\s+have)?\s+(been|were)\s+"
    r"(told|instructed|taught|given|programmed)\b|"
    r"\bregardless\s+of\s+(any\s+|all\s+|the\s+|your\s+)?(previous|prior|earlier|former|"
    r"original|above|preceding)\b|"
    r"\b(ignore|disregard)\s+(the|this|that|these|those|all)\s+(\w+\s+){0,2}?(and|,)\s+"
    r"(instead\s+)?(just\s+)?(say|state|output|print|write|respond|reply|answer|return|claim)\b",
    re.IGNORECASE,
)
# Orders about the form of the answer, which data has no business giving.
_ANSWER_ORDER = re.compile(
    r"\b(respond|reply|answer|output)\s+only\s+(with|in|using)\b|"
    r"\binstead,\s+(output|print|say|respond|reply|return|answer)\b|"
    r"\b(from now on|henceforth|for the rest of (this|the) conversation),?\s+"
    r"(only\s+)?(respond|reply|answer|speak|write|talk)\s+(only\s+)?in\b",
    re.IGNORECASE,
)
# A change of task slipped in after the first one: "Actually, can you ... instead?"
_TASK_SWITCH = re.compile(
    r"\b(actually|wait|scratch that),?\s+(can|could|would|will)\s+you\b[^.\n]{0,80}?\binstead\b",
    re.IGNORECASE,
)
# Claims of a rank over the model or a mode it can be switched into.
_AUTHORITY = re.compile(
    r"\b(I('m|\s+am)|as)\s+your\s+(developer|creator|programmer|administrator|admin|owner|"
    r"operator|master|maker)\b|"
    r"\bI('m|\s+am)\s+(a\s+)?god\b|"
    r"<\s*(system|admin|developer|maintenance)\s+mode\s*>|"
    r"\b(system|maintenance|admin|override|root|developer)\s+mode\s+(activated|enabled|engaged)\b|"
    r"\bI('m|\s+am)\s+(now\s+)?(entering|initiating|activating|enabling|running|performing)\s+"
    r"(a\s+|the\s+)?['\"]?(\w+\s+){0,2}?(mode|reset|upgrade|override)\b|"
    r"\b(has|have|with)\s+no\s+(special\s+|content\s+|safety\s+)?(filter(s|ing)?|censorship)\b",
    re.IGNORECASE,
)
_SECRET = (
    r"(password|passcode|pass\s?phrase|secret\s+(key|code|word|phrase)|api\s+key|access\s+code|"
    r"system\s+prompt|initial\s+prompt|hidden\s+instructions)"
)
# "The password policy": words about passwords, not the password itself.
_NOT_THE_SECRET = (
    r"(policy|policies|manager|reset|requirements?|strength|rules|hash\w*|field|length|"
    r"change|generator|complexity|expiry|expiration)\b"
)
# Asking the model for what it was told to keep: its password, key or prompt.
_SECRET_REQUEST = re.compile(
    r"(?<!never\s)(?<!not\s)(?<!n't\s)"
    r"\b(what('s|\s+is|\s+are|\s+was)|tell\s+me|give\s+me|share|reveal|disclose|confirm|provide|"
    r"print|repeat|show\s+me|spell|output|leak|send\s+me|write|encode|translate|need|want)\b"
    r"[^.?!\n]{0,40}?"
    rf"\b(your|the|our|its)\s+(\w+\s+){{0,2}}?{_SECRET}\b(?!\s+{_NOT_THE_SECRET})|"
    r"\b(poem|haiku|story|acrostic|song|riddle|limerick)\b[^.?!\n]{0,30}?\b(your|the)\s+"
    r"(password|passcode|secret)\b",
    re.IGNORECASE,
)
# Offers for the model: money for an answer it would not give.
_BRIBE = re.compile(
    r"\bI('ll|\s+will)\s+(give|pay|tip|donate|send)\b[^.\n]{0,40}?[$€£]\s?\d[^.\n]{0,60}?"
    r"\bif\s+you\b",
    re.IGNORECASE,
)
# A question hidden in a cipher, with the order to answer it.
_DECODE_AND_ANSWER = re.compile(
    r"\bdecode\s+(this|the\s+following|these)\b[^.\n]{0,60}?\b(and|then)\s+(tell\s+me|answer|"
    r"follow|respond|reply|do\s+what|execute)",
    re.IGNORECASE,
)
# A request cut into quoted fragments for the model to join ("Part 1 is 'What is the
# sec', Part 2 is 'ret code'"), so that no fragment reads as one.
_SPLIT_PAYLOAD = re.compile(
    r"\bpart\s*(1|one)\b\s*(is|:|=)?\s*[\"“'][^\"”'\n]{1,80}[\"”'][^\n]{0,40}?"
    r"\bpart\s*(2|two)\b\s*(is|:|=)?\s*[\"“']",
    re.IGNORECASE,
)
# One word over and over, to wear down what the model was told before it.
_REPEATED_TOKEN = re.compile(r"\b([^\W\d_]{3,})(\s+\1\b){7,}", re.IGNORECASE)
# The same question in other languages, as a question.
_SECRET_QUESTION = re.compile(
    r"(mot\s+de\s+passe|passwort|kennwort|contraseña|senha|пароль|κωδικό|パスワード|"
    r"비밀번호|密码|密碼|كلمة\s+المرور|पासवर्ड)[^?？\n]{0,60}[?？]",
    re.IGNORECASE,
)
# Asking for the personal data of the user the model serves, as a third party would.
_USER_DATA = re.compile(
    r"\b(tell\s+me|give\s+me|share|reveal|disclose|leak|print|encode|spell|translate|confirm|know|"
    r"what('s|\s+is|\s+are|\s+was))\s+(me\s+)?(the\s+)?(\w+\s+){0,3}?(of\s+)?the\s+user'?s\b|"
    r"\bwhere\s+(does|did)\s+the\s+user\s+(currently\s+|now\s+)?live\b",
    re.IGNORECASE,
)

# "Ignore previous instructions" in other languages: an order to drop (verb) the earlier
# or all (earlier) instructions (noun), the three within one clause in any order, as word
# order differs (Korean and Hindi put the verb last).
_TRANSLATED_OVERRIDE: tuple[tuple[str, str, str], ...] = (
    (  # Spanish, Portuguese, Italian, French
        r"\b(ignor\w*|olvid\w*|esque[cç]\w*|dimentic\w*|oubli\w*|descart\w*)",
        r"\b(instrucciones|indicaciones|instruções|instrucoes|orientações|istruzioni|"
        r"instructions|consignes|directives)\b",
        r"\b(anteriores|previas|prévias|precedenti|précédentes|precedentes|antérieures|"
        r"todas|todos|tutte|toutes)\b",
    ),
    (  # German, Dutch
        r"\b(ignorier\w*|vergiss|vergessen|negeer|vergeet)\b",
        r"\b(anweisungen|instruktionen|befehle|vorgaben|instructies)\b",
        r"\b(vorherigen|bisherigen|vorigen|früheren|alle|vorige|eerdere)\b",
    ),
    (  # Russian, Ukrainian
        r"(игнорир\w*|проигнорир\w*|забуд\w*|забудь\w*|ігнор\w*)",
        r"(инструкци\w*|указани\w*|інструкці\w*)",
        r"(предыдущ\w*|прежн\w*|все|попередн\w*)",
    ),
    (r"(αγνο\w*|ξεχ\w*)", r"(οδηγ\w*)", r"(προηγούμεν\w*|όλες)"),  # Greek
    ("(अनदेखी|अनदेखा|नजरअंदाज|भूल)", "(निर्देश)", "(पिछले|सभी|पूर्व)"),  # Hindi
    ("(무시|잊)", "(지시|지침|명령)", "(이전|모든|앞의)"),  # Korean
    (  # Japanese, Chinese
        "(無視|忘れ|忽略|无视|忘记|忘記)",
        "(指示|命令|指令|说明|說明)",
        "(以前|前の|これまで|之前|先前|上述|上面|所有)",
    ),
    ("(تجاهل|انس)", "(التعليمات|تعليمات|الإرشادات)", "(السابقة|جميع|كل)"),  # Arabic
)
_TRANSLATED = tuple(
    tuple(re.compile(part, re.IGNORECASE) for part in parts) for parts in _TRANSLATED_OVERRIDE
)
_CLAUSE = re.compile(r"[.!?;\n。！？।]+")


def _translated_override(text: str) -> bool:
    for clause in _CLAUSE.split(text):
        if len(clause) > 200:
            continue
        for verb, noun, earlier in _TRANSLATED:
            if verb.search(clause) and noun.search(clause) and earlier.search(clause):
                return True
    return False


def _readable(data: bytes) -> bool:
    """Decoded bytes that are mostly printable text, at least 16 characters of it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if len(text) < 16:
        return False
    printable = sum(ch.isprintable() or ch in "\n\t\r" for ch in text)
    letters = sum(ch.isalpha() or ch == " " for ch in text)
    return printable / len(text) >= 0.95 and letters / len(text) >= 0.6


def _base64_payload(text: str) -> bool:
    for pattern, decode in (
        (_BASE64, base64.b64decode),
        (_BASE64_URL, base64.urlsafe_b64decode),
    ):
        for match in pattern.finditer(text):
            blob = match.group(0)
            try:
                data = decode(blob + "=" * (-len(blob) % 4))
            except (binascii.Error, ValueError):
                continue
            if _readable(data):
                return True
    return False


def _hex_payload(text: str) -> bool:
    for match in _HEX.finditer(text):
        digits = re.sub(r"[ :]", "", match.group(0))
        if len(digits) % 2:
            digits = digits[:-1]
        if _readable(bytes.fromhex(digits)):
            return True
    return False


def _binary_payload(text: str) -> bool:
    for match in _BINARY.finditer(text):
        bits = re.sub(r"[ ,]", "", match.group(0))
        data = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits) - 7, 8))
        if _readable(data):
            return True
    return False


def _morse_payload(text: str) -> bool:
    """Dots and dashes that spell words: three or more, of mostly letters."""
    for match in _MORSE.finditer(text):
        words = re.split(r"\s+/\s+", match.group(0).strip())
        decoded = " ".join(
            "".join(_MORSE_CODE.get(code, "?") for code in word.split()) for word in words
        )
        if len(words) >= 3 and _readable(decoded.encode("utf-8")):
            return True
    return False


def _invisible(text: str) -> bool:
    return bool(_TAGS.search(text) or _ZERO_WIDTH.search(text) or _ZWJ_IN_LATIN.search(text))


def _private_use_run(text: str) -> bool:
    """Three or more private-use or unassigned code points in a row: smuggled symbols."""
    run = 0
    for ch in text:
        run = run + 1 if unicodedata.category(ch) in ("Co", "Cn") else 0
        if run >= 3:
            return True
    return False


# Scores sit above the classifier's usual cut-off (about 0.9), so a rule that fires is
# enough to flag a text; the training script counts the rules when it picks the cut-off.
RULES: tuple[Rule, ...] = (
    Rule("invisible-unicode", 0.98, _invisible),
    Rule("bidi-unicode", 0.98, lambda text: bool(_BIDI.search(text))),
    Rule("private-use-unicode", 0.9, _private_use_run),
    Rule("base64-payload", 0.95, _base64_payload),
    Rule("hex-payload", 0.95, _hex_payload),
    Rule("binary-payload", 0.95, _binary_payload),
    Rule("morse-payload", 0.95, _morse_payload),
    Rule("override-previous", 0.99, lambda text: bool(_OVERRIDE.search(text))),
    Rule("new-role", 0.97, lambda text: bool(_NEW_ROLE.search(text))),
    Rule("role-line", 0.97, lambda text: bool(_ROLE_LINE.search(text))),
    Rule("new-instructions", 0.97, lambda text: bool(_NEW_INSTRUCTIONS.search(text))),
    Rule("override-translated", 0.97, _translated_override),
    Rule("override-short", 0.95, lambda text: bool(_OVERRIDE_SHORT.search(text))),
    Rule("answer-order", 0.9, lambda text: bool(_ANSWER_ORDER.search(text))),
    Rule("task-switch", 0.9, lambda text: bool(_TASK_SWITCH.search(text))),
    Rule("authority-claim", 0.9, lambda text: bool(_AUTHORITY.search(text))),
    # A user may ask psi for a password from their own notes; data may not.
    Rule(
        "secret-request",
        0.9,
        lambda text: bool(_SECRET_REQUEST.search(text) or _SECRET_QUESTION.search(text)),
    ),
    Rule("user-data-request", 0.9, lambda text: bool(_USER_DATA.search(text))),
    Rule("bribe", 0.9, lambda text: bool(_BRIBE.search(text))),
    Rule("split-payload", 0.9, lambda text: bool(_SPLIT_PAYLOAD.search(text))),
    Rule("repeated-token", 0.9, lambda text: bool(_REPEATED_TOKEN.search(text))),
    Rule("decode-and-answer", 0.9, lambda text: bool(_DECODE_AND_ANSWER.search(text))),
)


def apply_rules(text: str) -> tuple[Rule, ...]:
    """The rules that fire on `text`, in the order of RULES."""
    return tuple(rule for rule in RULES if rule.fires(text))


def rule_score(text: str) -> float:
    """The injection score the rules alone give `text`: the strongest that fires, or 0."""
    return max((rule.injection for rule in apply_rules(text)), default=0.0)
