package capacity

import (
	"context"
	"errors"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/runner"
)

// Users is a population of closed-loop session users whose number a search
// steers: session.Executor with Config.Steered. Run and Report are
// runner.Executor's (Run is called once, on its own goroutine); SetUsers,
// Pause and Resume are safe from any goroutine. While paused, no turn is
// sent and no session starts; a user over the number set stops at its next
// turn boundary.
type Users interface {
	runner.Executor
	runner.Pauser
	SetUsers(n int)
}

// NewUsers returns a search over the number of session users: each step
// runs that many users, each running sessions one after another, and is
// judged on the turns sent in it (after its warm-up). Between steps the
// users are paused at their turn boundaries while the step's last turns
// finish, so that each step starts on an idle server with the users'
// conversations carried on. cfg.By must be ByUsers or empty.
func NewUsers(cfg Config, users Users) (*Executor, error) {
	if cfg.By == "" {
		cfg.By = ByUsers
	}
	if cfg.By != ByUsers {
		return nil, errors.New("capacity: a session scenario's search steps its users: by = \"users\"")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if users == nil {
		return nil, errors.New("capacity: by users needs the session users")
	}
	return &Executor{cfg: cfg, users: users, search: NewSearch(cfg.Search)}, nil
}

// stepTap is the step whose turns the tap counts.
type stepTap struct {
	acc     *stepAcc
	warmEnd time.Duration // turns sent earlier are not judged
}

// tapDispatcher is the Dispatcher the session users send through: each
// turn counts towards the step under way, which sees its result.
type tapDispatcher struct {
	runner.Dispatcher
	e *Executor
}

func (t tapDispatcher) Release(p *request.Plan, at time.Duration) {
	if st := t.e.tap.Load(); st != nil {
		judged := at >= st.warmEnd
		st.acc.released(judged)
		reply := p.Reply
		p.Reply = func(res *request.Result) {
			st.acc.record(res, judged)
			if reply != nil {
				reply(res)
			}
		}
	}
	t.e.released.Add(1)
	t.e.planned.Add(1)
	t.Dispatcher.Release(p, at)
}

// usersRun is the session users' Run under way.
type usersRun struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // Run's error; read after done
}

// startUsers starts the session users, paused and with none running, on
// their own goroutine.
func (e *Executor) startUsers(ctx context.Context, d runner.Dispatcher) *usersRun {
	ictx, cancel := context.WithCancel(ctx)
	u := &usersRun{cancel: cancel, done: make(chan struct{})}
	e.users.Pause()
	e.users.SetUsers(0)
	go func() {
		defer close(u.done)
		u.err = e.users.Run(ictx, tapDispatcher{d, e})
	}()
	return u
}

// stop ends the session users (their turns in flight still finish) and
// returns their Run's error.
func (u *usersRun) stop() error {
	u.cancel()
	<-u.done
	return u.err
}

// sendUsers is a users step's send phase: n users run sessions until
// check ends it; then they are paused at their turn boundaries.
func (e *Executor) sendUsers(ctx context.Context, run *usersRun, acc *stepAcc, check func() (string, string),
	tick <-chan time.Time, n int, start time.Duration) (ended, why string, err error) {
	e.tap.Store(&stepTap{acc: acc, warmEnd: start + e.cfg.Warmup})
	defer e.tap.Store(nil)
	e.users.SetUsers(n)
	e.users.Resume()
	defer e.users.Pause()
	for {
		select {
		case <-ctx.Done():
			return EndedStopped, "", nil
		case <-run.done:
			if run.err != nil {
				return EndedStopped, "", run.err
			}
			return EndedSource, "", nil // the scenario's limit or duration ended the sessions
		case <-tick:
			if ended, why := check(); ended != "" {
				return ended, why, nil
			}
		}
	}
}
