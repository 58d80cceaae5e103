package capacity

import "github.com/llmload/llmload/engine/load/session"

// Chat is a session Program of back-to-back turns, for the end-to-end
// tests (package capacity_test).
func Chat(turns, prompt, output int) session.Program { return chat{turns, prompt, output} }
