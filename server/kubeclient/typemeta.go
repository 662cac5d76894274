package kubeclient

import (
	"strings"

	"github.com/skiff-io/skiff/server/jsonscan"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
)

// typeMetaFactory finds an object's apiVersion and kind with a scan of its
// top-level keys, where client-go's json.DefaultMetaFactory unmarshals the
// whole object with encoding/json to read the same two strings. The JSON
// serializer asks for them before it decodes anything, so every watch
// event the controllers' informers receive (the frame, then its object)
// was scanned twice by encoding/json only for that: 4% of the server's CPU
// while the scheduler binds a backlog. What the scan cannot read as
// encoding/json would (escapes, keys that match only without regard to
// case, values that are not strings, text after the object) goes to
// DefaultMetaFactory, so the answer is always the same.
type typeMetaFactory struct{}

func (typeMetaFactory) Interpret(data []byte) (*schema.GroupVersionKind, error) {
	apiVersion, kind, ok := topLevelTypeMeta(data)
	if !ok {
		return json.DefaultMetaFactory.Interpret(data)
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, err
	}
	return &schema.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: kind}, nil
}

// topLevelTypeMeta returns the apiVersion and kind strings at the top
// level of the JSON object data (empty when absent; the last one when
// repeated, as encoding/json keeps), and false when data is anything it
// does not read exactly as encoding/json would.
func topLevelTypeMeta(data []byte) (apiVersion, kind string, ok bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return "", "", false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return "", "", skipSpace(data, i+1) == len(data)
	}
	for {
		key, next, simple := plainString(data, i)
		if !simple {
			return "", "", false
		}
		i = skipSpace(data, next)
		if i >= len(data) || data[i] != ':' {
			return "", "", false
		}
		i = skipSpace(data, i+1)
		var target *string
		switch {
		case key == "apiVersion":
			target = &apiVersion
		case key == "kind":
			target = &kind
		case strings.EqualFold(key, "apiVersion") || strings.EqualFold(key, "kind"):
			return "", "", false // encoding/json would match it
		}
		if target != nil {
			v, next, simple := plainString(data, i)
			if !simple {
				return "", "", false
			}
			*target, i = v, next
		} else if i, ok = skipValue(data, i); !ok {
			return "", "", false
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return "", "", false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return apiVersion, kind, skipSpace(data, i+1) == len(data)
		default:
			return "", "", false
		}
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// plainString reads the string starting at data[i] if it holds only
// printable ASCII without escapes; it returns the string and the index
// after its closing quote.
func plainString(data []byte, i int) (string, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return string(data[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", 0, false
		}
	}
	return "", 0, false
}

// skipValue returns the index after the JSON value starting at data[i]:
// strings (escapes included), objects and arrays (brackets counted outside
// strings) and literals. It does not validate what it skips: the object is
// decoded after Interpret, and that decode reports malformed JSON.
func skipValue(data []byte, i int) (int, bool) {
	if i >= len(data) {
		return 0, false
	}
	switch data[i] {
	case '"':
		return jsonscan.StringEnd(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				var ok bool
				if i, ok = jsonscan.StringEnd(data, i); !ok {
					return 0, false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	default:
		end := i
	literal:
		for ; end < len(data); end++ {
			switch data[end] {
			case ' ', '\t', '\r', '\n', ',', '}', ']':
				break literal
			}
		}
		return end, end > i
	}
}

// negotiatedJSON is codecs.WithoutConversion() with typeMetaFactory in
// its JSON serializers (the others are the factory's).
type negotiatedJSON struct {
	runtime.NegotiatedSerializer
	types []runtime.SerializerInfo
}

func newNegotiatedJSON(s *runtime.Scheme, codecs serializer.CodecFactory) negotiatedJSON {
	n := negotiatedJSON{NegotiatedSerializer: codecs.WithoutConversion()}
	for _, info := range codecs.SupportedMediaTypes() {
		if info.MediaType == runtime.ContentTypeJSON {
			fast := json.NewSerializerWithOptions(typeMetaFactory{}, s, s, json.SerializerOptions{})
			info.Serializer = fast
			info.StrictSerializer = json.NewSerializerWithOptions(typeMetaFactory{}, s, s, json.SerializerOptions{Strict: true})
			if info.StreamSerializer != nil {
				stream := *info.StreamSerializer
				stream.Serializer = fast
				info.StreamSerializer = &stream
			}
		}
		n.types = append(n.types, info)
	}
	return n
}

// SupportedMediaTypes implements runtime.NegotiatedSerializer.
func (n negotiatedJSON) SupportedMediaTypes() []runtime.SerializerInfo { return n.types }
