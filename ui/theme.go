package ui

import (
	"github.com/gdamore/tcell/v2"

	"github.com/llmload/llmload/ui/chart"
)

// theme holds every style the dashboard uses, so NO_COLOR is one switch.
type theme struct {
	header, text, dim, title     tcell.Style
	bar, barEmpty                tcell.Style
	paused, stopping, status     tcell.Style
	errorText, helpBox, helpText tcell.Style
	tab, tabActive               tcell.Style   // scenario tabs
	palette                      []tcell.Style // series without thresholds, by position
	chart                        chart.Styles
}

func newTheme(noColor bool) theme {
	def := tcell.StyleDefault
	if noColor {
		// Attributes only: NO_COLOR asks for no colour, not for no
		// emphasis. Threshold levels still show as ! and ✗ marks.
		return theme{
			header: def.Bold(true), text: def, dim: def, title: def.Bold(true),
			bar: def, barEmpty: def,
			paused: def.Reverse(true), stopping: def.Reverse(true).Bold(true), status: def,
			errorText: def.Bold(true), helpBox: def, helpText: def,
			tab: def, tabActive: def.Reverse(true).Bold(true),
			palette: []tcell.Style{def},
			chart: chart.Styles{
				Title: def.Bold(true), Axis: def, Label: def, Dim: def,
				Levels: [4]tcell.Style{def, def, def.Bold(true), def.Bold(true)},
			},
		}
	}
	fg := def.Foreground
	green, yellow, red := fg(tcell.ColorGreen), fg(tcell.ColorYellow), fg(tcell.ColorRed)
	gray := fg(tcell.ColorGray)
	return theme{
		header: fg(tcell.ColorWhite).Bold(true), text: def, dim: gray, title: def.Bold(true),
		bar: fg(tcell.ColorAqua), barEmpty: gray,
		paused:   def.Background(tcell.ColorYellow).Foreground(tcell.ColorBlack).Bold(true),
		stopping: def.Background(tcell.ColorRed).Foreground(tcell.ColorWhite).Bold(true),
		status:   yellow, errorText: red, helpBox: fg(tcell.ColorAqua), helpText: def,
		tab: gray, tabActive: def.Background(tcell.ColorAqua).Foreground(tcell.ColorBlack).Bold(true),
		// Neutral hues, none of them green/yellow/red, so colour alone
		// never suggests a verdict where no threshold was set.
		palette: []tcell.Style{fg(tcell.ColorAqua), fg(tcell.ColorFuchsia), fg(tcell.ColorSilver), fg(tcell.ColorBlue)},
		chart: chart.Styles{
			Title: def.Bold(true), Axis: gray, Label: def, Dim: gray,
			Levels: [4]tcell.Style{def, green, yellow, red},
		},
	}
}
