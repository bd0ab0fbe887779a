//! Packing of connected components: each is laid out on its own (so none can tangle another) and they are
//! stacked across the layer axis, largest first then by smallest node index (the order
//! `layered::build` gives them), `component_gap` apart, every one keeping the shared layer columns.
//! O(V).

/// Moves a component's cross-axis centres so its first edge sits at `*cursor`, then advances `*cursor` past
/// it by `gap`. `extent` is each vertex's size across the layer axis (0 for dummies).
pub(crate) fn stack(centres: &mut [f64], extent: &[f64], cursor: &mut f64, gap: f64) {
    let (low, high) = centres
        .iter()
        .zip(extent)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (c, e)| (lo.min(c - e / 2.0), hi.max(c + e / 2.0)));
    if !low.is_finite() {
        return;
    }
    let shift = *cursor - low;
    centres.iter_mut().for_each(|c| *c += shift);
    *cursor += high - low + gap;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_stack_gap_apart() {
        let mut cursor = 0.0;
        let mut first = vec![30.0, 60.0];
        stack(&mut first, &[20.0, 0.0], &mut cursor, 40.0);
        assert_eq!((first, cursor), (vec![10.0, 40.0], 80.0));
        let mut second = vec![-5.0];
        stack(&mut second, &[10.0], &mut cursor, 40.0);
        assert_eq!((second, cursor), (vec![85.0], 130.0));
    }
}
