/*
 * controller_ha.pml: a Promela model (Spin 6.5) of freezer-dr's controller HA protocol:
 * the election and its fencing token (EtcdElection, src/ha/etcd_election.*), the shared journal
 * in etcd (EtcdJournal: every write conditioned on the term), the engine's "record(event), then
 * the side effect" (Engine::record in src/core/engine.cc, then Calls::start), the takeover
 * (Engine::resume), the BMC and Nova. docs/ha-model.md explains it; model/check.sh runs it.
 * Safety only: every property is an assertion or a state invariant, checked by a bounded,
 * exhaustive reachability search (pan -DSAFETY).
 *
 * A state of the model:
 *   etcd     the leader key (key_crev: its create_revision, the term; 0: no key), the number of
 *            terms granted, the journal (one incident's snapshot: `journal`)
 *   ctrl c   term[c] (EtcdElection::term_, 0: standing by), mem[c] (Engine::open_), loaded[c]
 *            (Engine::resumed_), and its locals (which calls this term made)
 *   BMC      bmc_off: the failed host's power, as read back
 *   Nova     per instance: nova[i] (on the failed host / rebuilding / moved) and inflight[i]
 *            (evacuate requests sent and not yet received)
 *   ghosts   accepted[i] (and rejected[i], resent): for the properties only
 *
 * Time is not modelled. A pause (SIGSTOP, a slow network, a long GC pause) is a process that
 * takes no step: interleaving already contains every pause at every point. The lease expires
 * (proctype Lease) at any moment except inside an atomic step of its holder (ASSUMPTION A1).
 *
 * Etcd's revision is abstracted to its order. A term is the create_revision of the leader key
 * its campaign put; the model numbers the terms 1, 2, 3... (strictly increasing, like the
 * revisions; the protocol only compares them). A journal step that announces a side effect is
 * named by (step, term of the write): each term journals each such step at most once, so the
 * pair names one write, as its revision does in etcd. That pair is the tag the side effect
 * carries.
 *
 * Switches (spin -D...):
 *   NC=2|3           controllers (default 2; 3 is far beyond a minute's search: see the doc)
 *   MAX_TERMS=n      campaigns won in one run, at most (default 3): the bound of the search
 *   NO_TERM_CHECK    BROKEN: journal writes are not conditioned on the term
 *   NO_LEASE_CHECK   BROKEN: a side effect is sent without asking the lease (the Calls gate)
 *   NO_REJOURNAL     BROKEN: a takeover re-issues a loaded power-off without journaling it anew
 *   NO_SHOW_BEFORE_RETRY  a new leader re-sends an evacuation without showing the instance
 *   NO_NOVA_GUARD    Nova accepts every evacuate (no task_state / host check)
 *   SKIP_P3          P3 is not checked (with NO_TERM_CHECK: to see what else breaks)
 *   REACH_RESENT_DONE  non-vacuity: asserts that no run closes the incident after a takeover
 *                    re-sent an evacuation and Nova refused a duplicate (must FAIL)
 */

#ifndef NC
#define NC 2
#endif
#ifndef MAX_TERMS
#define MAX_TERMS 3
#endif
#define NI 2          /* instances on the failed host (the model spells out 0 and 1) */

/* The incident's phase (include/freezer/incident.h: only the steps that matter here). */
#define P_NONE      0  /* no incident for the failed host */
#define P_DETECTED  1  /* events::Detected */
#define P_POFF_REQ  2  /* events::PowerOffRequested: the intent, before the power-off call */
#define P_FENCED    3  /* events::FenceConfirmed: the power read back OFF */
#define P_DONE      4  /* events::Closed */

/* An instance's record in the incident (InstanceRecord). */
#define I_PENDING   0
#define I_REQ       1  /* events::EvacuationRequested: the intent, before the evacuate call */
#define I_EVACUATED 2  /* events::InstanceObserved: active on another host */

/* Nova's view of an instance. */
#define N_ON_HOST    0  /* still on the failed host, no task */
#define N_REBUILDING 1  /* task_state rebuilding: an evacuation was accepted */
#define N_MOVED      2  /* active on another host */

/* One incident's snapshot, as the journal stores it (JournalEntry::incident): every write
 * replaces the whole snapshot. poff_term / inst_term: the term of the write that announced the
 * power-off / the instance's evacuation (the side effect's tag, with the step). */
typedef Incident {
  byte phase;
  byte poff_term;
  byte inst[NI];
  byte inst_term[NI];
};

/* ---- etcd ------------------------------------------------------------------------------------ */
byte key_crev = 0;       /* <prefix>leader: its create_revision, the holder's term; 0: no key */
byte terms = 0;          /* the last term granted (terms are 1, 2, ..., MAX_TERMS) */
Incident journal;        /* <prefix>incident/<id>: the incident's snapshot */

/* ---- controllers (the part of their state the invariants read) ------------------------------ */
byte term[NC];           /* EtcdElection::term_: 0 when standing by */
Incident mem[NC];        /* Engine::open_ (with the closed incident: already_recovered) */
bool loaded[NC];         /* Engine::resumed_: resume() loaded the journal in this term */

/* ---- the outside world ----------------------------------------------------------------------- */
bool bmc_off = false;    /* the failed host's power, as the BMC reads it back */
byte nova[NI];           /* N_ON_HOST / N_REBUILDING / N_MOVED */
byte inflight[NI];       /* evacuate requests sent, not yet received by Nova */

/* ---- ghosts (for the properties only) -------------------------------------------------------- */
byte accepted[NI];       /* evacuations Nova accepted */
#ifdef REACH_RESENT_DONE
byte rejected[NI];       /* evacuations Nova refused (409 / 400) */
bool resent = false;     /* a takeover journaled and re-sent an evacuation */
#define RESENT resent = true
#define REJECTED(i) rejected[i]++
#define REACHED_DONE assert(!(resent && rejected[0] + rejected[1] > 0))
#else
#define RESENT skip
#define REJECTED(i) skip
#define REACHED_DONE skip
#endif

/* ---- state invariants (proctype Monitor, at the end, checks them in every reachable state) -- */

/* P2: no instance is evacuated twice (evacuations *accepted* by Nova). */
#define P2_ONCE (accepted[0] <= 1 && accepted[1] <= 1)

/* ... and an instance the journal records evacuated did move, through one accepted request. */
#define MOVED_ONCE(i) (journal.inst[i] != I_EVACUATED || (nova[i] == N_MOVED && accepted[i] == 1))
#define P2_RECORDED (MOVED_ONCE(0) && MOVED_ONCE(1))

/* P3: the leader never loses sight of an open incident. While c holds the leader key and has
 * loaded the journal, its in-memory incident is exactly the journal's: an incident committed
 * and not done is in its set, in the state the journal has it. A stale write landing behind the
 * leader's back breaks it. */
#define SAME(c) (mem[c].phase == journal.phase && mem[c].poff_term == journal.poff_term && \
                 mem[c].inst[0] == journal.inst[0] && mem[c].inst[1] == journal.inst[1] && \
                 mem[c].inst_term[0] == journal.inst_term[0] && \
                 mem[c].inst_term[1] == journal.inst_term[1])
#define AGREES(c) (!(term[c] != 0 && key_crev == term[c] && loaded[c]) || SAME(c))
#if NC == 2
#define P3_AGREE (AGREES(0) && AGREES(1))
#else
#define P3_AGREE (AGREES(0) && AGREES(1) && AGREES(2))
#endif

/* P4 (global form): once Nova accepted an evacuation, the host is off and the journal says it
 * was fenced. */
#define P4_FENCED (accepted[0] + accepted[1] == 0 || (bmc_off && journal.phase >= P_FENCED))

/* ---- helpers --------------------------------------------------------------------------------- */

inline copy(dst, src) {
  dst.phase = src.phase; dst.poff_term = src.poff_term;
  dst.inst[0] = src.inst[0]; dst.inst[1] = src.inst[1];
  dst.inst_term[0] = src.inst_term[0]; dst.inst_term[1] = src.inst_term[1]
}

inline clear(dst) {
  dst.phase = P_NONE; dst.poff_term = 0;
  dst.inst[0] = I_PENDING; dst.inst[1] = I_PENDING;
  dst.inst_term[0] = 0; dst.inst_term[1] = 0
}

/* The narrative of a trail (spin -t prints it; pan ignores printf). */
inline say_incident(x) {
  if
  :: x.phase == P_NONE -> printf("none")
  :: x.phase == P_DETECTED -> printf("detected")
  :: x.phase == P_POFF_REQ -> printf("power-off-requested@term %d", x.poff_term)
  :: x.phase == P_FENCED -> printf("fenced")
  :: x.phase == P_DONE -> printf("done")
  fi;
  printf(", instances [%d@%d, %d@%d]", x.inst[0], x.inst_term[0], x.inst[1], x.inst_term[1])
}

/* EtcdJournal::commit, the incident after the event being `next`:
 *   txn { compare: create_revision(<prefix>leader) == term; success: put(<prefix>incident/...) }
 * Engine::record updates the in-memory copy only once the commit succeeded. Used inside a
 * d_step: the txn lands at etcd at one point in time. */
inline txn() {
#ifdef NO_TERM_CHECK
  ok = true;
#else
  ok = (key_crev == term[me]);
#endif
  if
  :: ok -> copy(journal, next); copy(mem[me], next);
     printf("c%d (term %d): journal write lands (the leader key is term %d): ",
            me, term[me], key_crev);
     say_incident(journal); printf("\n")
  :: else ->
     printf("c%d (term %d): journal write refused (the leader key is term %d): deposed\n",
            me, term[me], key_crev)
  fi;
  clear(next)
}

/* After txn(): a refused commit demotes the controller (Leadership::deposed(term)); the engine
 * then finds itself deposed and the daemon exits (kExitDeposed), to restart as a standby. */
inline deposed_unless_ok() {
  if
  :: ok -> ok = false
  :: else -> goto restart
  fi
}

/* Engine::record(incident, event), acting on it only if it succeeded: `prep` turns the
 * in-memory incident (copied to `next`) into the incident after the event, txn() commits it.
 * The step is decided from the controller's own memory, which nobody else changes: deciding it
 * as the txn lands is the same as deciding it earlier and being paused in between. */
#define RECORD(prep) atomic { copy(next, mem[me]); prep; txn(); deposed_unless_ok() }

/* The gate of every side effect: Calls::startErased asks leadership->acting(now) on the worker,
 * right before the call. ASSUMPTION A1: acting(now) implies that the lease is still valid in
 * etcd (the leader stops at TTL - margin on its own monotonic clock, counted from when it *sent*
 * the renewal), and the check and the request leaving the process are one atomic step (the
 * margin covers the time between them). A valid lease means the leader key is still this
 * term's: the key is attached to the lease. BROKEN (NO_LEASE_CHECK): no gate. */
#ifdef NO_LEASE_CHECK
#define ACTING true
#else
#define ACTING (key_crev == term[me])
#endif

/* A power-off is issued only under a PowerOffRequested this term journaled; a takeover journals
 * a loaded request again first. BROKEN (NO_REJOURNAL): the takeover re-issues the loaded
 * request under the old write, without journaling it in its own term. */
#ifdef NO_REJOURNAL
#define REJOURNAL false
#define POFF_MINE true
#else
#define REJOURNAL true
#define POFF_MINE (mem[me].poff_term == term[me])
#endif

/* P1, checked as `me` performs a side effect tagged with the term `tag` of the journal write
 * that announced it, `still` saying whether the journal's record of that step is still that
 * write:
 *  (a) `me` holds the tag's term: the write was committed in a term `me` held. The election
 *      grants each term once, to one controller (the campaign below is the only place a term
 *      is made), so no two controllers ever perform the side effect of the same write;
 *  (b) that term is the current one (the leader key is still this term's);
 *  (c) the journal's record of the step is still that write: the side effect is announced by
 *      the durable record a successor will load. */
inline performed(tag, still) {
  assert(tag == term[me]);       /* P1a: the write announcing it was made in the performer's term */
  assert(key_crev == term[me]);  /* P1b: the performer holds the current term */
  assert(still)                  /* P1c: that write is still the journal's record of the step */
}

/* ---- etcd's lease ---------------------------------------------------------------------------
 * The holder's lease expires when it was not renewed within the TTL: the controller was paused,
 * cut off from etcd, or crashed (a restarted process has a new lease). Etcd then deletes the
 * keys attached to it, the leader key among them. Real time is abstracted: the expiry may come
 * at any moment, except inside an atomic step of the holder (A1). A keep-alive is "not expiring
 * yet"; a resignation (revokeLease on SIGTERM) is the same event as an expiry. */
active proctype Lease() {
end_lease:
  do
  :: d_step {
       key_crev != 0 ->
       printf("etcd: the lease of term %d expires: no leader key\n", key_crev);
       key_crev = 0
     }
  od
}

/* ---- Nova ------------------------------------------------------------------------------------
 * An evacuate request arrives at any time after it was sent (from a controller that has since
 * stopped or been deposed, too) and Nova's own guard decides (ASSUMPTION A2): accepted only
 * while the instance is still on the failed host with no task; otherwise 409 (task_state
 * rebuilding) or 400 (its host is up: it moved) and nothing happens. Nova saves task_state
 * with expected_task_state=None: two concurrent requests cannot both pass. The rebuild then
 * completes (never fails, in the model). */
inline arrive(i) {
  d_step {
    inflight[i]--;
    if
#ifdef NO_NOVA_GUARD
    :: true ->
#else
    :: nova[i] == N_ON_HOST ->
#endif
       accepted[i]++; nova[i] = N_REBUILDING;
       printf("nova: evacuation of instance %d accepted (%d accepted so far)\n", i, accepted[i]);
       assert(bmc_off)        /* P4: the host is off when Nova accepts an evacuation */
    :: else -> REJECTED(i); printf("nova: evacuation of instance %d refused (409/400)\n", i)
    fi
  }
}

active proctype Nova() {
end_nova:
  do
  :: inflight[0] > 0 -> arrive(0)
  :: inflight[1] > 0 -> arrive(1)
  :: d_step { nova[0] == N_REBUILDING -> nova[0] = N_MOVED; printf("nova: instance 0 moved\n") }
  :: d_step { nova[1] == N_REBUILDING -> nova[1] = N_MOVED; printf("nova: instance 1 moved\n") }
  od
}

/* ---- a controller: EtcdElection (campaign) + Engine (its ticks as leader) ------------------- */

/* An instance's state for the leader (Engine::requestEvacuations, followEvacuations). */
#define EVAC(i, s)      (loaded[me] && mem[me].phase == P_FENCED && mem[me].inst[i] == s)
#define EVAC_PENDING(i) EVAC(i, I_PENDING)
#define EVAC_OLD(i)     (EVAC(i, I_REQ) && mem[me].inst_term[i] != term[me] && !follow[i])
#define EVAC_MINE(i)    (EVAC(i, I_REQ) && mem[me].inst_term[i] == term[me] && !sent[i])
#define EVAC_WAIT(i)    (EVAC(i, I_REQ) && (sent[i] || follow[i]) && nova[i] == N_MOVED)

/* P4 at the evacuate call: the power-off confirmed, in memory and in the journal. */
#define FENCED_FIRST (mem[me].phase == P_FENCED && journal.phase == P_FENCED && bmc_off)

/* Journal EvacuationRequested in this term: new, or the re-request of a takeover. */
inline request_evacuation(i) {
  RECORD(next.inst[i] = I_REQ; next.inst_term[i] = term[me])
}

/* Takeover: the request was journaled in an earlier term (sent or not; maybe still in flight).
 * Show the instance (GET /servers/{id}): an evacuation under way or done is followed; otherwise
 * a new request is journaled in this term, then sent (EVAC_MINE). */
inline retry_evacuation(i) {
#ifdef NO_SHOW_BEFORE_RETRY
  request_evacuation(i); RESENT
#else
  if
  :: atomic { nova[i] != N_ON_HOST ->
       printf("c%d (term %d): shows instance %d: under way, follows it\n", me, term[me], i);
       follow[i] = true }
  :: atomic { else ->
       printf("c%d (term %d): shows instance %d: not under way, requests again\n",
              me, term[me], i) };
       request_evacuation(i); RESENT
  fi
#endif
}

/* The evacuate call (Calls::start on the cloud lane), only for a request this term journaled;
 * the request is then in flight to Nova. The whole guard is the d_step's first statement: a
 * call the gate refuses (kPermissionDenied) is not made and leaves the controller free to
 * notice that it is deposed. */
inline evacuate(i) {
  d_step {
    EVAC_MINE(i) && ACTING ->
    performed(mem[me].inst_term[i],
              journal.inst[i] == I_REQ && journal.inst_term[i] == mem[me].inst_term[i]);
    assert(FENCED_FIRST);  /* P4: evacuate sent only once fenced is journaled, the host off */
    inflight[i]++; sent[i] = true;
    printf("c%d (term %d): evacuate instance %d sent (tag: term %d)\n", me, term[me], i,
           mem[me].inst_term[i])
  }
}

/* Follow: once Nova shows the instance active elsewhere, journal it evacuated (whichever request
 * Nova accepted: this term's, or one still in flight from an earlier term). */
inline evacuated(i) {
  RECORD(next.inst[i] = I_EVACUATED)
}

/* P3 at the load: an incident committed and not done is in what was loaded, as committed. */
#define LOADED_ALL_OPEN (journal.phase == P_NONE || journal.phase == P_DONE || SAME(me))

proctype Controller(byte me) {
  Incident next;          /* scratch: the incident after the event being recorded */
  bool ok;                /* scratch: the last commit's answer */
  bool poff_sent;         /* Calls: this term made the power-off call */
  bool sent[NI];          /* Calls: this term made the instance's evacuate call */
  bool follow[NI];        /* this term's takeover found the instance's evacuation under way */

restart:
  /* A new process (or one that stopped acting): nothing of the old term in memory. */
  atomic {
    term[me] = 0; loaded[me] = false; clear(mem[me]);
    poff_sent = false; sent[0] = false; sent[1] = false; follow[0] = false; follow[1] = false
  };

  /* EtcdElection::step campaigns: txn { compare: create_revision(<prefix>leader) == 0;
   * success: put(<prefix>leader, name, lease) }. The term is the put's revision. */
end_standby:
  d_step {
    key_crev == 0 && terms < MAX_TERMS ->
    terms++; key_crev = terms; term[me] = terms;
    printf("c%d: wins the election: term %d\n", me, terms)
  };

  /* Engine::tick, leading. */
  do
  /* EtcdElection::step: keepAlive answers kNotFound (the lease expired: the controller was
   * paused or cut off), its own clock passed TTL - margin, or the key is gone: it demotes. The
   * engine finds itself deposed and the daemon exits (kExitDeposed): restart as a standby. */
  :: atomic { key_crev != term[me] ->
       printf("c%d (term %d): sees its lease gone: stops, restarts as a standby\n", me, term[me]);
       goto restart }

  /* A crash (kill -9, OOM, power loss), or a clean stop, at any step: back to an empty
   * memory; the lease lives on until it expires (or is revoked: the same event here). */
  :: atomic {
       printf("c%d (term %d): crashes, restarts as a standby\n", me, term[me]);
       goto restart }

  /* Taking over (Engine::resume: Journal::openIncidents, and the closed incidents behind
   * already_recovered): one range read of the journal. P3 at load: every incident committed
   * and not done is in the loaded set. */
  :: !loaded[me] ->
       d_step {
         copy(mem[me], journal); loaded[me] = true;
         printf("c%d (term %d): loads the journal: ", me, term[me]); say_incident(mem[me]);
         printf("\n");
         assert(LOADED_ALL_OPEN)  /* P3: the load has every open incident */
       }

  /* The failed host is detected and has no incident, open or closed: open one. */
  :: loaded[me] && mem[me].phase == P_NONE ->
       RECORD(next.phase = P_DETECTED)

  /* Fencing: journal PowerOffRequested (Engine::requestPowerOff: record, then the call). A
   * request loaded from an earlier term is journaled again in this one, then re-issued. */
  :: loaded[me] && (mem[me].phase == P_DETECTED ||
                    (mem[me].phase == P_POFF_REQ && mem[me].poff_term != term[me] && REJOURNAL)) ->
       RECORD(next.phase = P_POFF_REQ; next.poff_term = term[me])

  /* The power-off call (fence lane): idempotent at the BMC. */
  :: d_step {
         loaded[me] && mem[me].phase == P_POFF_REQ && POFF_MINE && !poff_sent && ACTING ->
         performed(mem[me].poff_term,
                   journal.phase == P_POFF_REQ && journal.poff_term == mem[me].poff_term);
         bmc_off = true; poff_sent = true;
         printf("c%d (term %d): power-off sent (tag: term %d)\n", me, term[me], mem[me].poff_term)
       }

  /* The power read back OFF: journal FenceConfirmed. */
  :: loaded[me] && mem[me].phase == P_POFF_REQ && poff_sent && bmc_off ->
       RECORD(next.phase = P_FENCED)

  /* Evacuation, each instance on its own. */
  :: EVAC_PENDING(0) -> request_evacuation(0)
  :: EVAC_PENDING(1) -> request_evacuation(1)
  :: EVAC_OLD(0) -> retry_evacuation(0)
  :: EVAC_OLD(1) -> retry_evacuation(1)
  :: evacuate(0)
  :: evacuate(1)
  :: EVAC_WAIT(0) -> evacuated(0)
  :: EVAC_WAIT(1) -> evacuated(1)

  /* Every instance evacuated: journal Closed. */
  :: loaded[me] && mem[me].phase == P_FENCED &&
     mem[me].inst[0] == I_EVACUATED && mem[me].inst[1] == I_EVACUATED ->
       RECORD(next.phase = P_DONE);
       REACHED_DONE  /* REACH: no run closes it after a re-send with a duplicate refused */
  od
}

init {
  byte c = 0;
  atomic {
    do
    :: c < NC -> run Controller(c); c++
    :: else -> break
    od
  }
}

/* The state invariants, in every reachable state: the monitor's guard is enabled in any state
 * that breaks one, and the search tries every enabled transition. (A monitor rather than an
 * ltl never claim keeps pan's check of invalid end states: no run may get stuck.) */
active proctype Monitor() {
end_monitor:
  atomic {
#ifdef SKIP_P3
    !(P2_ONCE && P4_FENCED && P2_RECORDED) ->
#else
    !(P2_ONCE && P3_AGREE && P4_FENCED && P2_RECORDED) ->
#endif
    assert(P2_ONCE);      /* P2: Nova accepts at most one evacuation per instance */
    assert(P2_RECORDED);  /* P2: journaled evacuated = moved, by exactly one evacuation */
#ifndef SKIP_P3
    assert(P3_AGREE);     /* P3: the acting leader's incidents are exactly the journal's */
#endif
    assert(P4_FENCED)     /* P4: an accepted evacuation: the host is off, journaled fenced */
  }
}
