"""The arms by name: the peer methods of arms.py, the product's own variants of sparsegate_arms.py
(each on a service of its own), and the Gate on a service the caller runs. Its own module so that
sparsegate_arms can build on arms without the two importing each other."""
import arms
import sparsegate_arms


def make_arm(name, batch, group_size, seed, target=None, model_dir=None, **options):
    """model_dir: the starting policy, which a sparsegate arm's own service scores with (and follows)."""
    if name in arms.ARMS:
        return arms.ARMS[name](batch, group_size, seed, **options)
    if name in sparsegate_arms.VARIANTS:
        return sparsegate_arms.GateArm(batch, group_size, seed, name=name, model_dir=model_dir, **options)
    if name in arms.SPARSEGATE_ARMS:
        if not target:
            raise ValueError(f"arm {name} needs a sparsegate service: --target host:port")
        return arms.SparsegateArm(batch, group_size, seed, target, dict(arms.SPARSEGATE_ARMS[name], **options),
                                  name=name)
    known = sorted(arms.ARMS) + sorted(sparsegate_arms.VARIANTS) + sorted(arms.SPARSEGATE_ARMS)
    raise ValueError(f"unknown arm {name!r}; known: {known}")
