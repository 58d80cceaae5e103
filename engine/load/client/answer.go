package client

import (
	"github.com/llmload/llmload/engine/load/request"
)

// answerCapture assembles what the server said for a plan with Capture
// set: the streamed text, the reasoning and the tool calls, pieced
// together from the deltas. It keeps at most request.MaxAnswerBytes in all,
// so a server that never stops costs bounded memory. One capture belongs to
// one call; it is not safe for concurrent use.
type answerCapture struct {
	text, reasoning []byte
	calls           []toolCallParts // by the delta's index
	kept            int
	cut             bool
}

type toolCallParts struct {
	id, name string
	args     []byte
}

func (a *answerCapture) reset() {
	a.text, a.reasoning, a.calls = a.text[:0], a.reasoning[:0], a.calls[:0]
	a.kept, a.cut = 0, false
}

// room trims v to what may still be kept and accounts for it.
func (a *answerCapture) room(v []byte) []byte {
	if left := request.MaxAnswerBytes - a.kept; len(v) > left {
		v, a.cut = v[:max(left, 0)], true
	}
	a.kept += len(v)
	return v
}

func (a *answerCapture) addText(v []byte)      { a.text = append(a.text, a.room(v)...) }
func (a *answerCapture) addReasoning(v []byte) { a.reasoning = append(a.reasoning, a.room(v)...) }

// call returns the tool call at index i, growing the list as deltas name
// new indexes. An index far beyond the calls seen is clamped, so a hostile
// index cannot allocate.
func (a *answerCapture) call(i int64) *toolCallParts {
	if i < 0 || i > int64(len(a.calls)) {
		i = int64(len(a.calls))
	}
	if i == int64(len(a.calls)) {
		a.calls = append(a.calls, toolCallParts{})
	}
	return &a.calls[i]
}

// answer copies what was captured into a Result's Answer.
func (a *answerCapture) answer() *request.Answer {
	ans := &request.Answer{Text: string(a.text), Reasoning: string(a.reasoning), Cut: a.cut}
	for _, c := range a.calls {
		ans.ToolCalls = append(ans.ToolCalls, request.ToolCall{ID: c.id, Name: c.name, Arguments: string(c.args)})
	}
	return ans
}

// toolCalls reads a delta's tool_calls array into the capture and reports
// whether it named at least one call.
func (s *scanner) toolCalls(a *answerCapture) (bool, error) {
	if s.Peek() != '[' {
		return false, s.Skip()
	}
	s.Enter()
	any := false
	for first := true; ; first = false {
		ok, err := s.Element(first)
		if err != nil || !ok {
			return any, err
		}
		any = true
		if s.Peek() != '{' {
			if err := s.Skip(); err != nil {
				return any, err
			}
			continue
		}
		if err := s.toolCall(a); err != nil {
			return any, err
		}
	}
}

// toolCall reads one element of tool_calls: {index, id, type, function:
// {name, arguments}}. Servers send the id and name once and the arguments
// in pieces; a call without an index is the last one seen (or a new one).
func (s *scanner) toolCall(a *answerCapture) error {
	s.Enter()
	index := int64(-1)
	var id, name, args []byte
	var hasID, hasName bool
	for first := true; ; first = false {
		key, ok, err := s.Member(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(key) {
		case "index":
			var has bool
			if index, has, err = s.count(); !has {
				index = -1
			}
		case "id":
			if s.Peek() == '"' {
				id, err = s.strCopy()
				hasID = err == nil && len(id) > 0
			} else {
				err = s.Skip()
			}
		case "function":
			name, hasName, args, err = s.function()
		default:
			err = s.Skip()
		}
		if err != nil {
			return err
		}
	}
	if index < 0 {
		index = int64(len(a.calls)) - 1
		if hasID || index < 0 {
			index = int64(len(a.calls))
		}
	}
	c := a.call(index)
	if hasID {
		c.id = string(id)
	}
	if hasName {
		c.name = string(a.room(name))
	}
	c.args = append(c.args, a.room(args)...)
	return nil
}

// function reads a tool call's {name, arguments}; the returned slices are
// copies, safe across later decoding.
func (s *scanner) function() (name []byte, hasName bool, args []byte, err error) {
	if s.Peek() != '{' {
		return nil, false, nil, s.Skip()
	}
	s.Enter()
	for first := true; ; first = false {
		key, ok, err := s.Member(first)
		if err != nil || !ok {
			return name, hasName, args, err
		}
		switch string(key) {
		case "name":
			if s.Peek() == '"' {
				name, err = s.strCopy()
				hasName = err == nil && len(name) > 0
			} else {
				err = s.Skip()
			}
		case "arguments":
			if s.Peek() == '"' {
				args, err = s.strCopy()
			} else {
				err = s.Skip()
			}
		default:
			err = s.Skip()
		}
		if err != nil {
			return nil, false, nil, err
		}
	}
}

// strCopy is str with a result that survives the next decoding call.
func (s *scanner) strCopy() ([]byte, error) {
	v, err := s.String()
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), v...), nil
}
