#!/usr/bin/env python3
"""Writes the texts of the tokenizer fixture (one JSON string per line): hand-picked edge cases
(accents, scripts, emoji, control characters, special tokens, long words) and samples of real
messages. `scripts/distill_reference.py tokens` then adds the ids `tokenizers` gives them.
Usage: python3 scripts/tokenizer_fixture_texts.py OUT [SHARED_DATA=../shared/data]"""
import json, random, sys
out_path = sys.argv[1]
data = sys.argv[2] if len(sys.argv) > 2 else "../shared/data"
random.seed(15)
out = []
hand = [
 "", " ", "\t\n\r", "Hello, World!", "can I speak to a real person", "is there a number I can ring to talk to someone?",
 "I was charged $249.99 twice!!!", "I want my money back.", "café naïve résumé façade", "Crème brûlée à la carte",
 "ÀÉÎÕÜ àéîõü ñÑ çÇ", "Straße groß Fußball", "İstanbul ıi İi", "ΑΘΗΝΑ Ελλάδα ελληνικά", "Москва привет Ёжик",
 "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีครับ", "こんにちは世界", "東京タワーは高い", "你好，世界！", "안녕하세요 세계",
 "emoji 😀😃😄 test", "I love it ❤️❤️", "thumbs 👍🏽 up", "family 👨‍👩‍👧‍👦 emoji", "flags 🇬🇧🇺🇸", "hello😀world",
 "😡😡😡 worst service ever", "€100 £50 ¥1000 ₹500", "50% off!!! ***", "a+b=c <tag> {brace} [bracket] |pipe| ~tilde^ `tick`",
 "[CLS] hello [SEP]", "a[MASK]b", "[UNK][PAD]", "[unused0] text", "[cls] lower", "[ CLS ]",
 "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis", "a" * 100, "a" * 101, "b" * 150 + " ok",
 "é" * 100, "é" * 101, "ab" * 60, "x" * 99 + "é", "antidisestablishmentarianism", "hyperparameteroptimization",
 "1234567890", "3.14159", "1,000,000", "+44 20 7946 0958", "order #A-123/456", "2026-11-29T18:00:00Z", "v1.2.3-beta",
 "http://example.com/path?x=1&y=2", "user@example.com", "C:\\Users\\me", "don't can't won't I'm you're",
 "“smart quotes” and ‘single’", "em—dash en–dash", "ellipsis… and more", "¿Qué? ¡Sí!", "«guillemets»",
 "fullwidth ＡＢＣ １２３ ！？", "ﬁne ﬂow ligatures", "x² ³√ ½ ¼", "Ⅻ roman", "ℌ𝔢𝔩𝔩𝔬 math", "𝐛𝐨𝐥𝐝 𝐭𝐞𝐱𝐭",
 "zero\u200bwidth", "soft\u00adhyphen", "nbsp\u00a0here", "ideographic\u3000space", "line\u2028sep", "bom\ufefftext",
 "ctrl\x01char", "vt\x0bff\x0cdone", "bell\x07x", "nul\x00byte", "del\x7fchar", "rep\ufffdlacement", "private\ue000use",
 "combining e\u0301 a\u0300", "\u0301leading mark", "Zalgo t̸̢̛e̷x̶t̴", "Å vs A\u030a", "ǅ titlecase", "ﬀ ﬃ",
 "MIXED case WoRdS", "ALL CAPS SHOUTING AT YOU", "snake_case_word", "kebab-case-word", "CamelCaseWord", "dots.in.words",
 "trailing space   ", "   leading space", "multiple\n\nnewlines\n", "tab\tseparated\tvalues",
 "can't login!!!!! app keeps crashing :( :( :(", "ur service is soooooo bad lol", "pls help me asap!!!",
 "I got let go last week and don't know how I'll find the money this month", "there's a charge from a hotel I never stayed at",
 "what do I do so you stop taking money from my card every month, for good?", "I'd like to know what data you keep on me",
 "naïve coöperate", "Ⓐⓑⓒ circled", "ｶﾀｶﾅ halfwidth", "ꙮ multiocular", "𓀀 hieroglyph", "🏳️‍🌈 flag", "1️⃣ keycap",
 "Ǆemal", "ﬆ ligature", "Kelvin \u212a sign", "Ångström \u212b", "Ohm \u2126", "micro \u00b5 mu \u03bc", "dotless ı", "final ς sigma",
 "ß ẞ capital sharp", "ŉ apostrophe n", "Ǉ Ǌ", "ﬓ armenian", "Ꭰ cherokee", "ᏸ", "𐐀 deseret", "ǰ j caron",
]
for name, col in [(data + "/vader-icwsm2014/tweets_GroundTruth.txt", 2), (data + "/vader-icwsm2014/amazonReviewSnippets_GroundTruth.txt", 2)]:
    lines = [l.split("\t")[col] for l in open(name, encoding="utf-8", errors="replace") if l.count("\t") >= 2]
    out += random.sample(lines, 100)
conv = [json.loads(l) for l in open(data + "/escalation-dev/conversations.jsonl")]
msgs = [m["text"] for c in conv for m in c["messages"]]
out += random.sample(msgs, 80)
# random unicode soup
pool = "aZ09 .,!?'\"-_éèüßøœ€£😀👍🏽❤️\u200d\u0301\u3000\t\n中文日本語한국어ÀÉ()[]{}#@$%^&*" 
for _ in range(40):
    out.append("".join(random.choice(pool) for _ in range(random.randint(1, 60))))
lex = [l.split("\t")[0] for l in open(data + "/vader-icwsm2014/emoji_utf8_lexicon.txt", encoding="utf-8")]
for _ in range(20):
    out.append(" ".join(random.sample(lex, 3)) + " ok")
allx = hand + out
print(len(allx))
open(out_path, "w").write("".join(json.dumps(t, ensure_ascii=False)+"\n" for t in allx))
