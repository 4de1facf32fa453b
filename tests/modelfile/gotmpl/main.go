// Builds the prompt Ollama's /api/chat builds for a model with a Modelfile
// TEMPLATE (used by tests/modelfile/test_templates.py and test_two_renderers.py).
//
// stdin: {"template": "...", "system": "<Modelfile SYSTEM>",
//         "messages": [{"role","content","thinking","images": <count>}],
//         "think": true|false|null}
// stdout: {"prompt": "...", "think_tags": ["<open>", "<close>"]} or {"error": "..."}
//
// Mirrors, step by step (own code, same stdlib text/template engine; ollama/ollama
// @ fb30760):
//   - server/routes.go ChatHandler: the SYSTEM goes first when the first message
//     is not a system message; a model with thinking tags gets think=true when
//     the request leaves it out (thinking capability, CheckCapabilities);
//   - server/prompt.go imageTaggedMessages: each image becomes [img-N] (N counts
//     across the conversation), replacing a literal "[img]" in the content if
//     there is one, else prefixed to the content (the runner then swaps each
//     [img-N] for the media marker, llm/llama_server.go);
//   - template/template.go Parse/Execute: option missingkey=zero; collate merges
//     consecutive same-role messages (except "tool") with "\n\n" and joins all
//     system contents into .System; data System, Messages, Tools(nil),
//     Response(""), Think, ThinkLevel ("medium" for true, api.ThinkValue.String),
//     IsThinkSet;
//   - thinking/template.go InferTags: think_tags are the first/last text of the
//     list holding a .Thinking field inside a range over .Messages.
// Not mirrored: truncation to num_ctx and filterThinkTags (qwen3-family models
// lose <think>...</think> from assistant turns before the last user message).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
	"text/template/parse"
)

type message struct {
	Role     string `json:"role"`
	Content  string `json:"content"`
	Thinking string `json:"thinking"`
	Images   int    `json:"images"`
}

type input struct {
	Template string    `json:"template"`
	System   string    `json:"system"`
	Messages []message `json:"messages"`
	Think    *bool     `json:"think"`
}

func withDefaultSystem(system string, msgs []message) []message {
	if len(msgs) > 0 && msgs[0].Role != "system" && system != "" {
		return append([]message{{Role: "system", Content: system}}, msgs...)
	}
	return msgs
}

func imageTagged(msgs []message) []message {
	id := 0
	out := make([]message, len(msgs))
	for i, m := range msgs {
		prefix, prompt := "", m.Content
		for j := 0; j < m.Images; j++ {
			tag := fmt.Sprintf("[img-%d]", id)
			id++
			if !strings.Contains(prompt, "[img]") {
				prefix += tag
			} else {
				prompt = strings.Replace(prompt, "[img]", tag, 1)
			}
		}
		m.Content = prefix + prompt
		out[i] = m
	}
	return out
}

func collate(msgs []message) (string, []*message) {
	var system []string
	var out []*message
	for i := range msgs {
		if msgs[i].Role == "system" {
			system = append(system, msgs[i].Content)
		}
		if len(out) > 0 && out[len(out)-1].Role == msgs[i].Role && msgs[i].Role != "tool" {
			out[len(out)-1].Content += "\n\n" + msgs[i].Content
		} else {
			m := msgs[i]
			out = append(out, &m)
		}
	}
	return strings.Join(system, "\n\n"), out
}

func usesMessages(n parse.Node) bool {
	found := false
	walk(n, nil, func(x parse.Node, _ []parse.Node) {
		if f, ok := x.(*parse.FieldNode); ok && len(f.Ident) > 0 && f.Ident[0] == "Messages" {
			found = true
		}
	})
	return found
}

func walk(n parse.Node, stack []parse.Node, visit func(parse.Node, []parse.Node)) {
	if n == nil {
		return
	}
	visit(n, stack)
	stack = append(stack, n)
	switch x := n.(type) {
	case *parse.ListNode:
		for _, c := range x.Nodes {
			walk(c, stack, visit)
		}
	case *parse.IfNode:
		walkBranch(&x.BranchNode, stack, visit)
	case *parse.RangeNode:
		walkBranch(&x.BranchNode, stack, visit)
	case *parse.WithNode:
		walkBranch(&x.BranchNode, stack, visit)
	case *parse.ActionNode:
		walk(x.Pipe, stack, visit)
	case *parse.PipeNode:
		for _, c := range x.Cmds {
			walk(c, stack, visit)
		}
	case *parse.CommandNode:
		for _, a := range x.Args {
			walk(a, stack, visit)
		}
	}
}

func walkBranch(b *parse.BranchNode, stack []parse.Node, visit func(parse.Node, []parse.Node)) {
	if b.Pipe != nil {
		walk(b.Pipe, stack, visit)
	}
	if b.List != nil {
		walk(b.List, stack, visit)
	}
	if b.ElseList != nil {
		walk(b.ElseList, stack, visit)
	}
}

func thinkTags(root *parse.ListNode) []string {
	open, close := "", ""
	walk(root, nil, func(n parse.Node, stack []parse.Node) {
		f, ok := n.(*parse.FieldNode)
		if !ok || len(f.Ident) == 0 || f.Ident[0] != "Thinking" {
			return
		}
		var rng *parse.RangeNode
		for i := len(stack) - 1; i >= 0; i-- {
			if r, ok := stack[i].(*parse.RangeNode); ok {
				rng = r
				break
			}
		}
		if rng == nil || !usesMessages(rng.Pipe) {
			return
		}
		for i := len(stack) - 1; i >= 0; i-- {
			if l, ok := stack[i].(*parse.ListNode); ok {
				if t, ok := l.Nodes[0].(*parse.TextNode); ok {
					open = strings.TrimSpace(t.String())
				}
				if t, ok := l.Nodes[len(l.Nodes)-1].(*parse.TextNode); ok {
					close = strings.TrimSpace(t.String())
				}
				break
			}
		}
	})
	return []string{open, close}
}

func main() {
	enc := json.NewEncoder(os.Stdout)
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		enc.Encode(map[string]string{"error": err.Error()})
		return
	}
	tmpl, err := template.New("").Option("missingkey=zero").Parse(in.Template)
	if err != nil {
		enc.Encode(map[string]string{"error": err.Error()})
		return
	}
	tags := thinkTags(tmpl.Tree.Root)
	if in.Think == nil && tags[0] != "" && tags[1] != "" {
		t := true
		in.Think = &t
	}
	system, msgs := collate(imageTagged(withDefaultSystem(in.System, in.Messages)))
	think := in.Think != nil && *in.Think
	level := ""
	if think {
		level = "medium"
	}
	var sb strings.Builder
	err = tmpl.Execute(&sb, map[string]any{
		"System": system, "Messages": msgs, "Tools": nil, "Response": "",
		"Think": think, "ThinkLevel": level, "IsThinkSet": in.Think != nil,
	})
	if err != nil {
		enc.Encode(map[string]string{"error": err.Error()})
		return
	}
	enc.Encode(map[string]any{"prompt": sb.String(), "think_tags": tags})
}
