package jsonscan

import "testing"

func TestStringEnd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		i    int
		end  int
		want bool
	}{
		{`"abc",1`, 0, 5, true},
		{`x:""`, 2, 4, true},
		{`"a\"b"`, 0, 6, true},
		{`"a\\"b"`, 0, 5, true},
		{`"\\\""`, 0, 6, true},
		{`"a\u0022b"`, 0, 10, true},
		{`"abc`, 0, 0, false},
		{`"ab\"`, 0, 0, false},
		{`"ab\`, 0, 0, false},
		{`abc"`, 0, 0, false},
		{`"`, 1, 0, false},
		{``, 0, 0, false},
	} {
		end, ok := StringEnd([]byte(tc.in), tc.i)
		if ok != tc.want || end != tc.end {
			t.Errorf("StringEnd(%q, %d) = %d, %v; want %d, %v", tc.in, tc.i, end, ok, tc.end, tc.want)
		}
	}
}

func BenchmarkStringEnd(b *testing.B) {
	s := []byte(`"payload-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz"`)
	for i := 0; i < b.N; i++ {
		if _, ok := StringEnd(s, 0); !ok {
			b.Fatal("no end")
		}
	}
}
