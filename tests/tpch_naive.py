#!/usr/bin/python3
"""tpch_naive.py - a deliberately naive model of dbgen's ORDERS rows, for tests.

An independent reimplementation of shared/tpch/ORDERS.md written for clarity,
not speed, and sharing no code with src/: it always starts at row 1 and steps
every random stream one draw at a time, padding each stream to its per-row
budget after every row (dbgen's row_stop). There is no jump-ahead at all.

At scale >= 30000 (ORDERS.md section 7) custkey and partkey come from the
64-bit LCG s <- s*6364136223846793005 + 1 (signed int64), draws are
lo + (|s| mod range), and the per-row padding is dbgen's NthElement, the 31-bit
Lehmer square-and-multiply applied to the 64-bit state with C's signed
wrap-around and truncating '%'. That is the quirk being modelled, so
NthElement is written out literally here (it is the algorithm, not a shortcut).

Usage:
  tpch_naive.py --sf SF[,SF...] --rows A-B[,C-D...] [--pool]
      prints the rows with those ordinals (full-run semantics) for each SF,
      as "SF<TAB>dbgen line". Without --pool the comment is replaced by
      "@offset+length" (its place in the text pool); with --pool the
      300 MiB pool is built first (minutes) and the real comment is printed.
      SFs of one call must all be below 30000 or all at/above it.
  tpch_naive.py --pkey-state ROW
      prints the 64-bit partkey stream's state at the start of ROW.
  tpch_naive.py --pool-sha256
      builds the pool and prints its sha256 (ORDERS.md 11: 09011f43...).
"""
import datetime
import hashlib
import sys

M = 2147483647
LCG_A = 6364136223846793005
LCG_C = 1
WIDE_SCALE = 30000
POOL_SIZE = 314572800


def lehmer(s):
    return s * 16807 % M


def unif(s, lo, hi):
    """dbgen's UnifInt on the already-advanced state s: divide, multiply, truncate."""
    return lo + int((s / 2147483647.0) * float(hi - lo + 1))


def wrap64(x):
    return (x + (1 << 63)) % (1 << 64) - (1 << 63)


def c_mod(a, b):
    """C's '%': the remainder takes the sign of the dividend."""
    r = abs(a) % b
    return -r if a < 0 else r


def nth_element(n, z):
    """dbgen NthElement: square-and-multiply by 16807 mod 2^31-1, in int64 as C does it."""
    mult = 16807
    while n > 0:
        if n % 2 != 0:
            z = c_mod(wrap64(mult * z), M)
        n //= 2
        mult = mult * mult % M
    return z


def unif64(z, lo, hi):
    t = wrap64(-z) if z < 0 else z
    return lo + c_mod(t, hi - lo + 1)


# The streams ORDERS output depends on: name -> (initial seed, per-row budget).
STREAMS = {
    "ckey": (851767375, 1), "odate": (1066728069, 1), "prio": (591449447, 1),
    "clrk": (1171034773, 1), "cmnt": (276090261, 2), "lcnt": (1434868289, 1),
    "qty": (209208115, 7), "dcnt": (554590007, 7), "tax": (721958466, 7),
    "pkey": (1808217256, 7), "sdte": (1769349045, 7),
}
WIDE_STREAMS = ("ckey", "pkey")
PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]
START = datetime.date(1992, 1, 1)
CURRENT = datetime.date(1995, 6, 17)


class Streams:
    """Every stream's state plus the draws used in the current row."""

    def __init__(self, wide):
        self.wide = wide
        self.state = {k: v[0] for k, v in STREAMS.items()}
        self.used = {k: 0 for k in STREAMS}

    def draw(self, name, lo, hi):
        self.used[name] += 1
        if self.wide and name in WIDE_STREAMS:
            self.state[name] = wrap64(self.state[name] * LCG_A + LCG_C)
            return unif64(self.state[name], lo, hi)
        self.state[name] = lehmer(self.state[name])
        return unif(self.state[name], lo, hi)

    def row_stop(self):
        for name, (_, budget) in STREAMS.items():
            skip = budget - self.used[name]
            if self.wide and name in WIDE_STREAMS:
                self.state[name] = nth_element(skip, self.state[name])
            else:
                for _ in range(skip):
                    self.state[name] = lehmer(self.state[name])
            self.used[name] = 0


def sizes(sf):
    """ORDERS.md 4: (scale, customers, parts)."""
    if sf >= 1:
        scale = int(sf)
        return scale, 150000 * scale, 200000 * scale
    k = int(1000.0 * sf)
    return 1, max(k * 150000 // 1000, 1), max(k * 200000 // 1000, 1)


def orders_count(sf):
    if sf >= 1:
        return 1500000 * int(sf)
    return max(int(1000.0 * sf) * 1500000 // 1000, 1)


def make_row(i, sf, st, pool):
    """Draws row i (ORDERS.md 6) from st and returns its dbgen line (no newline)."""
    scale, n_cust, n_part = sizes(sf)
    okey = ((i >> 3) << 5) | (i & 7)
    cust = st.draw("ckey", 1, n_cust)
    delta = 1
    while cust % 3 == 0:
        cust = min(cust + delta, n_cust)
        delta = -delta
    odate = START + datetime.timedelta(days=st.draw("odate", 92001, 94406) - 92001)
    prio = PRIORITIES[st.draw("prio", 1, 5) - 1]
    clerk = st.draw("clrk", 1, max(1000 * scale, 1000))
    off = st.draw("cmnt", 0, POOL_SIZE - 78)
    length = st.draw("cmnt", 19, 78)
    lines = st.draw("lcnt", 1, 7)
    total, shipped = 0, 0
    for _ in range(lines):
        qty = st.draw("qty", 1, 50)
        disc = st.draw("dcnt", 0, 10)
        tax = st.draw("tax", 0, 8)
        pk = st.draw("pkey", 1, n_part)
        ship = odate + datetime.timedelta(days=st.draw("sdte", 1, 121))
        retail = 90000 + (pk // 10) % 20001 + (pk % 1000) * 100
        ext = retail * qty
        total += ext * (100 - disc) // 100 * (100 + tax) // 100
        shipped += ship <= CURRENT
    status = "F" if shipped == lines else "O" if shipped == 0 else "P"
    comment = pool[off:off + length].decode() if pool else "@%d+%d" % (off, length)
    return "%d|%d|%s|%d.%02d|%s|%s|Clerk#%09d|0|%s|" % (
        okey, cust, status, total // 100, total % 100, odate.isoformat(), prio, clerk, comment)


# ---- the text pool (ORDERS.md 6.6), word lists transcribed from ORDERS.md ----

def weighted(text):
    out = []
    for item in text.split(","):
        word, weight = item.rsplit(":", 1)
        out.append((word.strip().replace("_", " "), int(weight)))
    return out


DISTS = {
    "grammar": [("N V T", 3), ("N V P T", 3), ("N V N T", 3), ("N P V N T", 1), ("N P V P T", 1)],
    "np": [("N", 10), ("J N", 20), ("J, J N", 10), ("D J N", 50)],
    "vp": [("V", 30), ("X V", 1), ("V D", 40), ("X V D", 1)],
    "nouns": weighted(
        "packages:40,requests:40,accounts:40,deposits:40,foxes:20,ideas:20,theodolites:20,"
        "pinto_beans:20,instructions:20,dependencies:10,excuses:10,platelets:10,asymptotes:10,"
        "courts:5,dolphins:5,multipliers:1,sauternes:1,warthogs:1,frets:1,dinos:1,attainments:1,"
        "somas:1,Tiresias:1,patterns:1,forges:1,braids:1,frays:1,warhorses:1,dugouts:1,"
        "notornis:1,epitaphs:1,pearls:1,tithes:1,waters:1,orbits:1,gifts:1,sheaves:1,depths:1,"
        "sentiments:1,decoys:1,realms:1,pains:1,grouches:1,escapades:1,hockey_players:1"),
    "verbs": weighted(
        "sleep:20,wake:20,are:20,cajole:20,haggle:20,nag:10,use:10,boost:10,affix:5,detect:5,"
        "integrate:5,maintain:1,nod:1,was:1,lose:1,sublate:1,solve:1,thrash:1,promise:1,engage:1,"
        "hinder:1,print:1,x-ray:1,breach:1,eat:1,grow:1,impress:1,mold:1,poach:1,serve:1,run:1,"
        "dazzle:1,snooze:1,doze:1,unwind:1,kindle:1,play:1,hang:1,believe:1,doubt:1"),
    "adjectives": weighted(
        "special:20,pending:20,unusual:20,express:20,furious:1,sly:1,careful:1,blithe:1,quick:1,"
        "fluffy:1,slow:1,quiet:1,ruthless:1,thin:1,close:1,dogged:1,daring:1,brave:1,stealthy:1,"
        "permanent:1,enticing:1,idle:1,busy:1,regular:50,final:40,ironic:40,even:30,bold:20,"
        "silent:10"),
    "adverbs": weighted(
        "sometimes:1,always:1,never:1,furiously:50,slyly:50,carefully:50,blithely:40,quickly:30,"
        "fluffily:20,slowly:1,quietly:1,ruthlessly:1,thinly:1,closely:1,doggedly:1,daringly:1,"
        "bravely:1,stealthily:1,permanently:1,enticingly:1,idly:1,busily:1,regularly:1,"
        "finally:1,ironically:1,evenly:1,boldly:1,silently:1"),
    "prepositions": weighted(
        "about:50,above:50,according_to:50,across:50,after:50,against:40,along:40,"
        "alongside_of:30,among:30,around:20,at:10,atop:1,before:1,behind:1,beneath:1,beside:1,"
        "besides:1,between:1,beyond:1,by:1,despite:1,during:1,except:1,for:1,from:1,"
        "in_place_of:1,inside:1,instead_of:1,into:1,near:1,of:1,on:1,outside:1,over:1,past:1,"
        "since:1,through:1,throughout:1,to:1,toward:1,under:1,until:1,up:1,upon:1,whithout:1,"
        "with:1,within:1"),
    "auxiliaries": weighted(
        "do:1,may:1,might:1,shall:1,will:1,would:1,can:1,could:1,should:1,ought_to:1,must:1,"
        "will_have_to:1,shall_have_to:1,could_have_to:1,should_have_to:1,must_have_to:1,"
        "need_to:1,try_to:1"),
    "terminators": [(".", 50), (";", 1), (":", 1), ("?", 1), ("!", 1), ("--", 1)],
}


def build_pool():
    """The 314,572,800-byte pool on stream 5; slow (a few minutes) but plain."""
    # A weighted pick (ORDERS.md 5.3) draws j = uniform(1, total) and takes the first entry
    # whose cumulative weight reaches j; the table maps j to that entry to keep this bearable.
    tables = {}
    for name, entries in DISTS.items():
        table = [None]
        for text, weight in entries:
            table.extend([text] * weight)
        tables[name] = (table, float(len(table) - 1))
    seed = [933588178]

    def pick(name):
        table, total = tables[name]
        seed[0] = seed[0] * 16807 % M
        return table[1 + int((seed[0] / 2147483647.0) * total)]

    def noun_phrase(out):
        for token in pick("np").split(" "):
            word = pick({"J": "adjectives", "J,": "adjectives", "D": "adverbs",
                         "N": "nouns"}[token])
            out.append(word + ("," if token == "J," else "") + " ")

    def verb_phrase(out):
        for token in pick("vp").split(" "):
            out.append(pick({"V": "verbs", "X": "auxiliaries", "D": "adverbs"}[token]) + " ")

    parts, size = [], 0
    while True:
        out = []
        for token in pick("grammar").split(" "):
            if token == "N":
                noun_phrase(out)
            elif token == "V":
                verb_phrase(out)
            elif token == "P":
                out.append(pick("prepositions") + " the ")
                noun_phrase(out)
            else:  # T: the terminator replaces the blank that ends the sentence so far
                out[-1] = out[-1][:-1]
                out.append(pick("terminators"))
        sentence = "".join(out)
        room = POOL_SIZE - size
        if room >= len(sentence) + 1:
            parts.append(sentence + " ")
            size += len(sentence) + 1
        else:
            parts.append(sentence[:room])
            break
    pool = "".join(parts).encode()
    assert len(pool) == POOL_SIZE
    return pool


def parse_ranges(text):
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.append((int(a), int(b or a)))
    return out


def main(argv):
    args = dict(zip(argv[1::2], argv[2::2]))
    if argv[1:] == ["--pool-sha256"]:
        print(hashlib.sha256(build_pool()).hexdigest())
        return 0
    if "--pkey-state" in args:
        # Only the two streams the partkey state depends on: the line count and partkey.
        st = Streams(wide=True)
        for _ in range(int(args["--pkey-state"]) - 1):
            for _ in range(st.draw("lcnt", 1, 7)):
                st.draw("pkey", 1, 2)  # the drawn value is irrelevant here, only the state
            for name in STREAMS:
                if name not in ("lcnt", "pkey"):
                    st.used[name] = STREAMS[name][1]  # untouched streams: nothing to pad
            st.row_stop()
        print(st.state["pkey"])
        return 0
    sfs = [float(x) for x in args["--sf"].split(",")]
    wide = {sf >= WIDE_SCALE for sf in sfs}
    if len(wide) != 1:
        print("tpch_naive.py: mix of SF below and above 30000", file=sys.stderr)
        return 2
    ranges = parse_ranges(args["--rows"])
    pool = build_pool() if "--pool" in argv else None
    last = max(b for _, b in ranges)
    st = Streams(wide.pop())
    for i in range(1, last + 1):
        wanted = [sf for sf in sfs if any(a <= i <= b for a, b in ranges) and i <= orders_count(sf)]
        saved = dict(st.state)
        # Every SF draws the same number of times from each stream (only the ranges differ),
        # so each SF's row starts from the same states and all leave the same states behind.
        for sf in wanted or sfs[:1]:
            st.state = dict(saved)
            st.used = {name: 0 for name in STREAMS}
            line = make_row(i, sf, st, pool)
            if wanted:
                print("%g\t%s" % (sf, line))
        st.row_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
